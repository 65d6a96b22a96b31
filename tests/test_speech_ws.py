"""The agent speech protocol end to end over a real websocket, with a live WebRTC call watching:
playback_started then playback_finished at the right position; `clear` mid-segment finishes it
as interrupted and the avatar goes back to idle with its mouth closed; refused messages get an
error event and the connection stays usable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import websockets

from server.cli import main as cli_main
from server.clients.speak_client import speak, speech_url
from tests.server_harness import (
    SPEECH_WAV,
    ServerThread,
    load_pcm,
    mouth_openings,
    running_server,
    server_settings,
    start_call,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_server(server_settings(tmp_path_factory.mktemp("store"))) as running:
        yield running


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    if not SPEECH_WAV.is_file():
        pytest.skip(f"{SPEECH_WAV} is not here")
    return load_pcm(SPEECH_WAV, 24_000)  # a TTS-like rate; the engine resamples


def test_segment_plays_then_finishes_at_its_length(
    server: ServerThread, speech: np.ndarray
) -> None:
    segment = speech[: 24_000 * 2]  # exactly 2 s

    async def scenario() -> list[dict[str, object]]:
        call = await start_call(server.url)
        try:
            result = await speak(speech_url(server.url, call.session_id), segment, 24_000)
        finally:
            await call.close()
        return result.events

    events = asyncio.run(scenario())
    kinds = [e["type"] for e in events]
    assert kinds == ["playback_started", "playback_finished"], events
    finished = events[1]
    assert finished["interrupted"] is False
    assert finished["position_s"] == pytest.approx(2.0, abs=0.05)
    # Played in real time: finished about the segment's length after it started.
    elapsed = float(finished["received_s"]) - float(events[0]["received_s"])
    assert 1.6 < elapsed < 3.5, elapsed


def test_clear_interrupts_and_the_avatar_returns_to_idle(
    server: ServerThread, speech: np.ndarray
) -> None:
    async def scenario() -> tuple[list[dict[str, object]], bool, list[float]]:
        call = await start_call(server.url, keep_rgb_every=2)
        try:
            await asyncio.sleep(1.0)
            result = await speak(
                speech_url(server.url, call.session_id), speech, 24_000, clear_after_s=1.5
            )
            cleared_s = time.monotonic()
            await asyncio.sleep(1.5)
            async with httpx.AsyncClient(base_url=server.url) as client:
                state = (await client.get(f"/v1/sessions/{call.session_id}")).json()
        finally:
            await call.close()
        idle = mouth_openings(call.pictures_between(cleared_s + 0.8, cleared_s + 1.5))
        return result.events, state["speaking"], idle

    events, speaking, idle = asyncio.run(scenario())
    assert [e["type"] for e in events] == ["playback_started", "playback_finished"], events
    finished = events[1]
    assert finished["interrupted"] is True
    assert 0.2 < float(finished["position_s"]) < 1.5, finished
    assert speaking is False
    assert len(idle) >= 5 and max(idle) < 0.09, idle


def test_refused_messages_get_an_error_event_and_the_connection_stays(
    server: ServerThread,
) -> None:
    async def scenario() -> list[dict[str, object]]:
        call = await start_call(server.url)
        replies = []
        try:
            async with websockets.connect(speech_url(server.url, call.session_id)) as ws:
                await ws.send(b"\x00\x00" * 160)  # audio before start
                replies.append(json.loads(await ws.recv()))
                await ws.send(json.dumps({"type": "start", "sample_rate": 7}))
                replies.append(json.loads(await ws.recv()))
                await ws.send(json.dumps({"type": "dance"}))
                replies.append(json.loads(await ws.recv()))
                await ws.send("not json")
                replies.append(json.loads(await ws.recv()))
                await ws.send(json.dumps({"type": "start", "sample_rate": 16_000}))
                await ws.send(b"\x00\x00" * 320)
                await ws.send(json.dumps({"type": "end"}))
                replies.append(json.loads(await ws.recv()))  # the segment now plays
        finally:
            await call.close()
        return replies

    replies = asyncio.run(scenario())
    assert [r.get("error") for r in replies[:4]] == [
        "speech_not_started",
        "bad_sample_rate",
        "bad_message",
        "bad_message",
    ]
    assert all(r["type"] == "error" and r["detail"] for r in replies[:4])
    assert replies[4]["type"] == "playback_started"


def test_gioconda_speak_streams_a_file_and_prints_the_events(
    server: ServerThread, speech: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = tmp_path / "clip.wav"
    with av.open(str(clip), "w") as container:  # 1.5 s at 24 kHz, as a TTS might write it
        stream = container.add_stream("pcm_s16le", rate=24_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            speech[None, :36_000].copy(), format="s16", layout="mono"
        )
        frame.sample_rate = 24_000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)

    async def scenario() -> int:
        call = await start_call(server.url)
        try:
            argv = ["speak", call.session_id, str(clip), "--url", server.url]
            return await asyncio.to_thread(cli_main, argv)
        finally:
            await call.close()

    assert asyncio.run(scenario()) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line[:1] == "{"]
    assert [e["type"] for e in printed] == ["playback_started", "playback_finished"]
    assert printed[1]["position_s"] == pytest.approx(1.5, abs=0.05)
