"""A live session's blendshape stream (issue 19): with outputs ["blendshapes"] no frame is decoded,
each frame's ARKit values carry their media timestamp, the mouth they describe lines up with the
returned audio, and the messages reach a client over the speech websocket and the `control` data
channel alike. Needs the trained motion weights (skipped without)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from engine.bench.stream import speech_like
from engine.contract import OUTPUT_AUDIO_RATE_HZ, StreamOptions
from engine.errors import EngineError
from engine.motion.blendshapes import VALUE_COLUMNS, frame_message
from engine.stream.engine import StreamEngine
from server.clients.speak_client import speak, speech_url
from tests.server_harness import (
    ServerThread,
    running_server,
    server_settings,
    session_headers,
    shared_engine,
    start_call,
)
from tests.stream_harness import Run, drive_sync

FPS = 40
JAW = VALUE_COLUMNS.index("jawOpen")
RATE_HZ = 16_000


@pytest.fixture(scope="module")
def trained_engine() -> StreamEngine:
    """The test servers' engine (trained weights, warmed up once per process)."""
    engine: StreamEngine = shared_engine()
    return engine


def frame_rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pcm.astype(np.float64) / 32768.0) ** 2)))


def lag_of_best_match(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[int, float]:
    """(lag, correlation) maximising corr(a[t + lag], b[t])."""
    scores = []
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[: len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        scores.append((float(np.corrcoef(x, y)[0, 1]), lag))
    correlation, lag = max(scores)
    return lag, correlation


def test_blendshape_frames_line_up_with_the_returned_audio(trained_engine, prepared_avatar) -> None:
    """jawOpen, placed by each message's time_s, follows the envelope of the audio the stream
    returned, placed by its audio_pts, with no lag: a message stamped with the time its
    motion was sampled (a window and its lookahead early) would lead by ~9 frames."""
    options = StreamOptions(fps=FPS, outputs=("blendshapes",))
    stream = trained_engine.create_stream(prepared_avatar("astronaut.png"), options)
    audio = speech_like(4.0, seed=2)

    def push(s, run: Run) -> None:
        s.push_audio(audio, RATE_HZ)
        s.end_segment()

    run = drive_sync(stream, 6 * FPS, {10: push})
    assert all(f.video is None for f in run.frames), "blendshapes only: no picture decoded"
    messages = [frame_message(f) for f in run.frames]
    assert [m["frame"] for m in messages] == list(range(len(messages)))
    times_s = np.array([m["time_s"] for m in messages])
    np.testing.assert_allclose(np.diff(times_s), 1.0 / FPS, atol=1e-6)
    audio_at = {f.audio_pts / OUTPUT_AUDIO_RATE_HZ: frame_rms(f.audio) for f in run.frames}
    envelope = np.array([audio_at[t] for t in times_s])  # the returned audio, by its own pts
    jaw = np.array([m["values"][JAW] for m in messages])
    speaking = np.array([m["speaking"] for m in messages])
    assert speaking.sum() >= 3.8 * FPS
    assert jaw[speaking].mean() > 3 * max(jaw[~speaking].mean(), 0.01)
    lag, correlation = lag_of_best_match(jaw, envelope, max_lag=12)
    print(
        f"jawOpen vs returned audio envelope: best lag {lag} frames, correlation {correlation:.2f}"
    )
    assert abs(lag) <= 2 and correlation > 0.5, (lag, correlation)


def test_outputs_are_checked(trained_engine, prepared_avatar) -> None:
    avatar = prepared_avatar("astronaut.png")
    for outputs in ((), ("video", "video"), ("audio",)):
        with pytest.raises(EngineError, match="outputs") as caught:
            trained_engine.create_stream(avatar, StreamOptions(outputs=outputs))
        assert caught.value.reason == "bad_outputs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_server(server_settings(tmp_path_factory.mktemp("store"))) as running:
        yield running


def test_a_blendshapes_only_session_streams_them_on_the_websocket_and_the_channel(
    server: ServerThread,
) -> None:
    segment_s = 1.5
    pcm = (speech_like(segment_s, seed=4) * 32767).astype(np.int16)

    async def scenario() -> tuple[list[dict[str, Any]], list[str], int, int]:
        options = {"outputs": ["blendshapes"], "fps": FPS}
        call = await start_call(server.url, video=False, options=options)
        try:
            url = speech_url(server.url, call.session_id)
            result = await speak(url, pcm, RATE_HZ, headers=call.headers)
            await asyncio.sleep(0.3)
        finally:
            await call.close()
        return result.events, call.channel_messages, len(call.frames), call.audio_samples

    messages, channel_raw, video_frames, audio_samples = asyncio.run(scenario())
    assert video_frames == 0 and audio_samples > 0, "audio comes back, no video"
    assert messages[0]["type"] == "blendshapes_layout"
    assert messages[0]["columns"] == list(VALUE_COLUMNS) and messages[0]["fps"] == FPS
    frames = [m for m in messages if m["type"] == "blendshapes"]
    numbers = [m["frame"] for m in frames]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "every frame, in order"
    for m in frames:
        assert m["time_s"] == pytest.approx(m["frame"] / FPS, abs=1e-6)
        assert len(m["values"]) == len(VALUE_COLUMNS)
    segment = [m for m in frames if m["segment_id"] is not None]
    assert abs(len(segment) - segment_s * FPS) <= 2, "the segment's frames span its audio"
    assert segment[-1]["segment_s"] == pytest.approx(segment_s, abs=1.0 / FPS)
    kinds = [m["type"] for m in messages]
    first_speech = next(i for i, m in enumerate(messages) if m.get("segment_id") is not None)
    assert abs(kinds.index("playback_started") - first_speech) <= 3, "the event comes with it"
    channel = [json.loads(raw) for raw in channel_raw]
    on_channel = {m["frame"]: m for m in channel if m["type"] == "blendshapes"}
    assert any(m["type"] == "blendshapes_layout" for m in channel)
    shared = [m for m in frames if m["frame"] in on_channel]
    assert len(shared) >= 0.9 * len(frames), "the channel carries the same frames"
    for m in shared:
        assert on_channel[m["frame"]] == {k: v for k, v in m.items() if k != "received_s"}


def test_a_session_without_video_needs_no_video_section_and_bad_outputs_are_refused(
    server: ServerThread,
) -> None:
    async def offer_status(outputs: list[str]) -> int:
        from aiortc import RTCConfiguration, RTCPeerConnection

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        body = {"sdp": pc.localDescription.sdp, "type": "offer", "options": {"outputs": outputs}}
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post("/v1/sessions", json=body)
            if response.status_code == 201:
                answer = response.json()
                await client.delete(
                    f"/v1/sessions/{answer['session_id']}", headers=session_headers(answer)
                )
        await pc.close()
        return response.status_code

    async def statuses() -> list[int]:
        outputs = (["blendshapes"], ["video"], ["video", "video"], ["smell"], [])
        return [await offer_status(o) for o in outputs]

    assert asyncio.run(statuses()) == [201, 400, 400, 400, 400]
