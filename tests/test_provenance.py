"""Provenance on files: the C2PA manifest a render carries (its fields, read back by `gioconda
detect`), the signing chain and server id made once at first start, and the audit's retention."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from engine.watermark.embed import WatermarkEmbedder
from engine.watermark.payload import WatermarkPayload
from engine.watermark.video import encode
from server.cli import main as gioconda
from server.provenance.audit import AuditLog
from server.provenance.identity import watermark_server_id
from server.provenance.manifest import (
    TRAINED_ALGORITHMIC_MEDIA,
    RenderProvenance,
    read_manifest,
    sign_mp4,
)
from server.provenance.signing import signing_identity

PAYLOAD = WatermarkPayload(server_id=0x2A2A, stream_id=0x0707)


@pytest.fixture
def marked_mp4(tmp_path: Path) -> Path:
    """1 s of a marked 512x512 picture as H.264 in MP4, as a render writes it."""
    rng = np.random.default_rng(0)
    picture = np.clip(rng.normal(128, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    picture = np.kron(picture, np.ones((8, 8, 1), np.uint8))  # 512x512, textured
    frames = [WatermarkEmbedder(PAYLOAD).embed(picture)] * 25
    path = tmp_path / "render.mp4"
    path.write_bytes(encode(frames, "libx264", 2000, 25).getvalue())
    return path


def test_a_signed_render_states_generator_consent_and_ai_generated(
    marked_mp4: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert read_manifest(marked_mp4) is None
    provenance = RenderProvenance("mona-lisa", "builtin:mona-lisa", str(PAYLOAD))
    sign_mp4(marked_mp4, provenance, signing_identity(tmp_path / "data"))
    manifest = read_manifest(marked_mp4)
    assert manifest is not None
    assert manifest["generator"] == "Gioconda"
    assert manifest["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
    assert manifest["ai_generated"] is True
    assert manifest["provenance"] == {
        "avatar_id": "mona-lisa",
        "consent_record_id": "builtin:mona-lisa",
        "watermark": str(PAYLOAD),
        "ai_generated": True,
    }
    assert manifest["validation_state"] == "Valid"  # intact; "Trusted" needs a trust-list CA
    assert manifest["signer"] == "Gioconda render signer"
    # gioconda detect reads both marks; the watermark survives the signing rewrite.
    assert gioconda(["detect", "--json", str(marked_mp4)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["payload"]["hex"] == str(PAYLOAD)
    assert verdict["c2pa"]["provenance"]["watermark"] == str(PAYLOAD)


def test_a_tampered_render_no_longer_validates(marked_mp4: Path, tmp_path: Path) -> None:
    provenance = RenderProvenance("astronaut", "builtin:astronaut", str(PAYLOAD))
    sign_mp4(marked_mp4, provenance, signing_identity(tmp_path / "data"))
    data = bytearray(marked_mp4.read_bytes())
    data[-2000] ^= 0xFF  # a byte of the video data
    marked_mp4.write_bytes(bytes(data))
    manifest = read_manifest(marked_mp4)
    assert manifest is not None and manifest["validation_state"] == "Invalid"


def test_the_signing_chain_and_server_id_are_made_once_and_kept(tmp_path: Path) -> None:
    first = signing_identity(tmp_path)
    assert signing_identity(tmp_path) == first
    assert (tmp_path / "c2pa" / "signer.key").stat().st_mode & 0o077 == 0
    assert first.chain_pem.count(b"BEGIN CERTIFICATE") == 2  # leaf and its local CA
    server_id = watermark_server_id(tmp_path)
    assert 1 <= server_id < 1 << 16 and watermark_server_id(tmp_path) == server_id
    assert watermark_server_id(tmp_path, configured=7) == 7


def test_audit_rows_past_the_retention_are_deleted(tmp_path: Path) -> None:
    kept = AuditLog(tmp_path, retention_days=90)
    kept.start("s_1", "session", "astronaut", "builtin:astronaut", "2a2a-0707")
    kept.end("s_1", "deleted")
    assert [e.id for e in kept.entries(watermark="2A2A-0707")] == ["s_1"]
    time.sleep(1.1)  # timestamps have 1 s resolution
    short = AuditLog(tmp_path, retention_days=1e-6)  # purges at start
    assert short.entries() == []
