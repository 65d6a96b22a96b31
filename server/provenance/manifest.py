"""C2PA manifests on rendered MP4s (c2pa-python): written after a render, read by `detect`.

The manifest states: the generator (claim_generator_info: Gioconda and its version), a
`c2pa.created` action whose digitalSourceType is IPTC's trainedAlgorithmicMedia ("AI-generated"),
and a `org.gioconda.provenance` assertion with the avatar id, its consent record id and the
invisible watermark's payload, so the file's two marks point at the same audit record.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import c2pa

from server.provenance.signing import SigningIdentity

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_LABEL = "org.gioconda.provenance"
GENERATOR = "Gioconda"


@dataclass(frozen=True)
class RenderProvenance:
    avatar_id: str
    consent_record_id: str
    watermark: str  # the payload as WatermarkPayload prints it, e.g. "51a7-0c0d"
    ai_generated: bool = True


def gioconda_version() -> str:
    try:
        return version("gioconda")
    except PackageNotFoundError:
        return "unknown"


def manifest_definition(provenance: RenderProvenance, title: str) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": gioconda_version()}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": GENERATOR, "version": gioconda_version()},
                        }
                    ]
                },
            },
            {"label": PROVENANCE_LABEL, "data": asdict(provenance)},
        ],
    }


def sign_mp4(path: Path, provenance: RenderProvenance, identity: SigningIdentity) -> None:
    """Embed a signed manifest into the MP4 at `path` (rewritten through a temporary file)."""
    signer_info = c2pa.C2paSignerInfo(identity.alg, identity.chain_pem, identity.key_pem, None)
    definition = json.dumps(manifest_definition(provenance, path.name))
    handle, temporary = tempfile.mkstemp(suffix=".mp4", dir=path.parent)
    os.close(handle)
    try:
        with (
            c2pa.Signer.from_info(signer_info) as signer,
            c2pa.Builder(definition) as builder,
            path.open("rb") as source,
            open(temporary, "w+b") as signed,
        ):
            builder.sign(signer, "video/mp4", source, signed)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The active manifest's claims that matter here, or None when the file carries none."""
    try:
        with path.open("rb") as source, c2pa.Reader(_mime(path), source) as reader:
            manifest = reader.get_active_manifest()
            state = reader.get_validation_state()
    except c2pa.C2paError:
        return None  # no manifest, or a format c2pa does not read
    if manifest is None:
        return None
    assertions = {a.get("label"): a.get("data", {}) for a in manifest.get("assertions", [])}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get(
        "actions", []
    )
    generator = [info.get("name") for info in manifest.get("claim_generator_info", [])]
    return {
        "generator": generator[0] if generator else None,
        "generator_version": (manifest.get("claim_generator_info") or [{}])[0].get("version"),
        "digital_source_type": next(
            (a.get("digitalSourceType") for a in actions if a.get("digitalSourceType")), None
        ),
        "ai_generated": any(
            a.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA for a in actions
        ),
        "provenance": assertions.get(PROVENANCE_LABEL),
        "signer": manifest.get("signature_info", {}).get("common_name"),
        "issuer": manifest.get("signature_info", {}).get("issuer"),
        "validation_state": state,  # Valid: intact and signed; Trusted needs a trust-list CA
    }


def _mime(path: Path) -> str:
    suffix = path.suffix.lower()
    return {
        ".mp4": "video/mp4",
        ".m4v": "video/mp4",
        ".mov": "video/quicktime",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".webp": "image/webp",
    }.get(suffix, "video/mp4")
