"""The live path carries the mark: a real WebRTC call (aiortc client, VP8 over loopback) recorded
to a file as a client would, then `gioconda detect` and POST /v1/detect find that session's
payload in the recording, and the consent audit (GET /v1/audit, API key only) has its row."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from server.cli import main as gioconda
from server.clients.webrtc_client import call_server
from tests.server_harness import ServerThread, running_server, server_settings

CALL_S = 4.0
API_KEY = "audit-test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
RECORD_KBPS = 800  # a client's recording re-encodes what it received


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = server_settings(
        tmp_path_factory.mktemp("store"), max_detect_bytes=3_000_000, api_key=API_KEY
    )
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def recording(server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the recorded call as WebM, the session's watermark payload as the server reports it)."""
    path = tmp_path_factory.mktemp("call") / "call.webm"
    return path, asyncio.run(_record_call(server.url, path))


async def _record_call(url: str, path: Path) -> str:
    container = av.open(str(path), "w")
    stream = container.add_stream("libvpx", rate=25)
    stream.width = stream.height = 512
    stream.pix_fmt = "yuv420p"
    stream.bit_rate = RECORD_KBPS * 1000
    stream.options = {"deadline": "realtime", "cpu-used": "8", "threads": "1"}
    pictures: list[av.VideoFrame] = []
    call = await call_server(url, lambda frame, _: pictures.append(frame), api_key=API_KEY)
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        described = (await client.get(f"/v1/sessions/{call.session_id}")).json()
    await asyncio.sleep(CALL_S)
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        await client.delete(f"/v1/sessions/{call.session_id}")
    await call.close()
    for index, received in enumerate(pictures):
        picture = av.VideoFrame.from_ndarray(received.to_ndarray(format="rgb24"), format="rgb24")
        picture.pts = index
        container.mux(stream.encode(picture))
    container.mux(stream.encode(None))
    container.close()
    assert len(pictures) > 2 * 25, f"only {len(pictures)} frames arrived"
    payload: str = described["watermark"]
    return payload


def test_gioconda_detect_finds_the_session_in_a_recorded_call(
    recording: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, payload = recording
    assert payload.split("-")[0] != "0000", "the server marks with its own id"
    assert gioconda(["detect", "--json", str(path)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["watermark_present"] and verdict["payload"]["hex"] == payload
    # Most windows: when the machine is busy, aiortc's congestion control drops the call to its
    # 250 kbit/s floor, where a detailed portrait's mark can fall under the per-window bar.
    assert verdict["detected_share"] >= 0.5
    assert verdict["false_positive_rate"] < 1e-6


def test_post_v1_detect_answers_for_an_upload_and_caps_its_size(
    server: ServerThread, recording: tuple[Path, str], tmp_path: Path
) -> None:
    path, payload = recording
    files = {"file": ("call.webm", path.read_bytes(), "video/webm")}
    response = httpx.post(server.url + "/v1/detect", files=files, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["payload"]["hex"] == payload
    too_big = {"file": ("big.webm", b"\0" * 3_100_000, "video/webm")}
    refused = httpx.post(server.url + "/v1/detect", files=too_big, headers=AUTH, timeout=60)
    assert refused.status_code == 413 and refused.json()["error"] == "too_many_bytes"
    garbage = {"file": ("x.mp4", b"not a video at all", "video/mp4")}
    refused = httpx.post(server.url + "/v1/detect", files=garbage, headers=AUTH, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"] == "bad_media"


def test_the_consent_audit_has_the_session_and_needs_the_api_key(
    server: ServerThread, recording: tuple[Path, str]
) -> None:
    _, payload = recording
    assert httpx.get(server.url + "/v1/audit", timeout=10).status_code == 401
    response = httpx.get(
        server.url + "/v1/audit", params={"watermark": payload}, headers=AUTH, timeout=10
    )
    assert response.status_code == 200, response.text
    (entry,) = response.json()["entries"]
    assert entry["kind"] == "session" and entry["watermark"] == payload
    assert entry["avatar_id"] == "astronaut"
    assert entry["consent_record_id"] == "builtin:astronaut"
    assert entry["started_at"] <= entry["ended_at"] and entry["end_cause"] == "deleted"
