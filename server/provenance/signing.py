"""The key and certificate chain that sign C2PA manifests: the operator's, or made at first start.

Configured: GIOCONDA_C2PA_CERT (PEM chain, leaf first) and GIOCONDA_C2PA_KEY (PEM private key;
ES256, i.e. an EC P-256 key, unless GIOCONDA_C2PA_ALG says otherwise). Otherwise the server makes
a local chain once and keeps it in DATA_DIR/c2pa/: a CA certificate (10 years) and a leaf signing
certificate (digitalSignature, emailProtection, 825 days) issued by it, both EC P-256, the key
readable by the owner only. C2PA readers show such a manifest as valid but untrusted, because
nobody outside this server knows that CA: an operator who needs "trusted" configures a chain
from a C2PA trust-list CA.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNING_DIR = "c2pa"
CHAIN_FILE = "chain.pem"
KEY_FILE = "signer.key"
CA_DAYS = 3650
LEAF_DAYS = 825


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # leaf first, then its issuers
    key_pem: bytes
    alg: str = "es256"


def signing_identity(
    data_dir: Path,
    cert_path: Path | None = None,
    key_path: Path | None = None,
    alg: str = "es256",
) -> SigningIdentity:
    """The configured chain and key, else the local ones (made now if this is the first start)."""
    if (cert_path is None) != (key_path is None):
        raise ValueError("set both GIOCONDA_C2PA_CERT and GIOCONDA_C2PA_KEY, or neither")
    if cert_path is not None and key_path is not None:
        return SigningIdentity(cert_path.read_bytes(), key_path.read_bytes(), alg)
    folder = data_dir / SIGNING_DIR
    if not (folder / CHAIN_FILE).is_file() or not (folder / KEY_FILE).is_file():
        _make_local_chain(folder)
    return SigningIdentity((folder / CHAIN_FILE).read_bytes(), (folder / KEY_FILE).read_bytes())


def _make_local_chain(folder: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Gioconda local signing CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        _builder(_name("Gioconda render signer"), ca_name, key.public_key(), now, LEAF_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    (folder / CHAIN_FILE).write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_file = folder / KEY_FILE
    key_file.touch(mode=0o600)
    os.chmod(key_file, 0o600)
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gioconda server (self-signed)"),
        ]
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    days: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
