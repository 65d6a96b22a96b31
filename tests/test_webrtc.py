"""WebRTC over loopback with a real aiortc client: 512x512 frames that keep coming, a mouth that
moves while speech arrives on the client's audio track and stays closed in silence; H264 on
request."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from server.transport.pacing import LabelPainter
from tests.server_harness import (
    SPEECH_WAV,
    PcmTrack,
    ServerThread,
    load_pcm,
    mouth_openings,
    running_server,
    server_settings,
    stall_bound_s,
    start_call,
)

CALL_S = 10.0
SPEECH_DELAY_S = 2.5  # silence first, so the same call shows both


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running_server(server_settings(tmp_path_factory.mktemp("store"))) as running:
        yield running


def test_call_streams_512px_at_40fps_and_the_mouth_follows_speech(server: ServerThread) -> None:
    if not SPEECH_WAV.is_file():
        pytest.skip(f"{SPEECH_WAV} is not here")
    speech = load_pcm(SPEECH_WAV)

    async def scenario() -> tuple[
        float,
        tuple[float, list[tuple[float, float]]],
        list[float],
        list[float],
        set[tuple[int, int]],
        int,
    ]:
        track = PcmTrack(speech, 16_000, start_delay_s=SPEECH_DELAY_S)
        call = await start_call(server.url, audio=track, keep_rgb_every=3)
        start = time.monotonic()
        await asyncio.sleep(CALL_S)
        async with httpx.AsyncClient(base_url=server.url) as client:
            during = (await client.get("/metrics")).text
        await call.close()
        async with httpx.AsyncClient(base_url=server.url) as client:
            after = (await client.get("/metrics")).text
        gauge = f'gioconda_session_delay_seconds{{session="{call.session_id}"}}'
        assert gauge in during and gauge not in after, "a live session's delay, gone with it"
        assert call.frames, "no video frame arrived"
        first = call.frames[0].arrival_s
        fps = call.fps_between(first, first + CALL_S)
        gap_s = call.longest_gap_s(first, start + CALL_S)  # until the call was closed
        spoken_from = track.first_sample_sent_s or start + SPEECH_DELAY_S
        # Silence: before any speech could show (the first frames may still settle).
        silent = call.pictures_between(first + 0.5, spoken_from)
        # Speech: from when its first words can be on screen to the end of the call.
        talking = call.pictures_between(spoken_from + 1.0, first + CALL_S)
        return (
            fps,
            (gap_s, call.gaps_over(0.3)),
            mouth_openings(silent),
            mouth_openings(talking),
            call.sizes,
            len(call.frames),
        )

    fps, (gap_s, gaps), silent, talking, sizes, count = asyncio.run(scenario())
    assert sizes == {(512, 512)}
    # Frames keep coming, not a frame rate: the rate is the machine's (bench webrtc measures
    # it), and CI shares its CPU with other work. 40 fps nominal; 5 fps is far below what even a
    # loaded 2-vCPU runner delivers, and a pause past the stall horizon is a dead call.
    assert gap_s < stall_bound_s() and fps > 5, f"{fps:.1f} fps, {count} frames; gaps: {gaps}"
    assert len(silent) >= 4 and len(talking) >= 10, (len(silent), len(talking))
    closed = float(np.percentile(silent, 90))
    moving = float(np.percentile(talking, 90))
    assert closed < 0.09, f"mouth open in silence: {silent}"
    assert moving > closed + 0.06, f"mouth did not open with speech: {closed=} {moving=}"
    assert np.std(talking) > 2 * np.std(silent), "the mouth should move, not hold a pose"


def test_a_full_garbage_collection_does_not_walk_the_models(server: ServerThread) -> None:
    """Regression: a call in CI got no frames for 3.8 s. A full garbage collection walks every
    object of the process holding the GIL (0.15 s for the server's ~320,000 objects here idle,
    0.78 s with two busy processes beside it, seconds for a test suite's process), and no frame
    is made, sent or received meanwhile. The server freezes what it holds once warmed up, so a
    collection during calls walks only what was made since (engine/stream/heap.py)."""
    model = server.app.state.engine.model
    walked = gc.get_objects()  # what a full collection walks: the permanent generation is not
    assert not any(o is model for o in walked), "the motion model is walked by every full GC"
    assert gc.get_freeze_count() > 100_000


def test_client_that_prefers_h264_gets_h264(server: ServerThread) -> None:
    async def scenario() -> tuple[str, set[tuple[int, int]], int, float]:
        call = await start_call(server.url, prefer_codec="h264")
        await asyncio.sleep(3.0)
        await call.close()
        video = call.answer_sdp.split("m=video", 1)[1]
        first_payload = video.split("\r\n", 1)[0].split()[2]
        rtpmap = next(
            line for line in video.splitlines() if line.startswith(f"a=rtpmap:{first_payload} ")
        )
        first = call.frames[0].arrival_s if call.frames else 0.0
        gap_s = call.longest_gap_s(first, call.frames[-1].arrival_s) if call.frames else 9.9
        return rtpmap, call.sizes, len(call.frames), gap_s

    rtpmap, sizes, count, gap_s = asyncio.run(scenario())
    assert "H264/90000" in rtpmap
    # H264 frames decode and keep coming; H264 costs twice VP8's CPU, and the rate is the
    # machine's (it was 11 fps here with two busy processes beside the test).
    assert sizes == {(512, 512)} and count > 5 and gap_s < stall_bound_s(), (count, gap_s)


def test_default_codec_is_vp8(server: ServerThread) -> None:
    async def scenario() -> str:
        call = await start_call(server.url)
        await call.close()
        return call.answer_sdp

    answer = asyncio.run(scenario())
    video = answer.split("m=video", 1)[1]
    first_payload = video.split("\r\n", 1)[0].split()[2]
    assert f"a=rtpmap:{first_payload} VP8/90000" in video


def test_control_channel_sets_controls_and_answers_errors(server: ServerThread) -> None:
    async def scenario() -> tuple[list[dict[str, object]], dict[str, object]]:
        call = await start_call(server.url)
        try:
            for _ in range(100):  # the channel opens once DTLS and SCTP are up
                if call.channel is not None and call.channel.readyState == "open":
                    break
                await asyncio.sleep(0.05)
            assert call.channel is not None and call.channel.readyState == "open"
            for message in (
                {"type": "controls", "emotion": "happy", "emotion_intensity": 0.8},
                {"type": "controls", "gaze_x": 5.0},
                {"type": "controls", "gaze_x": "left"},
                {"type": "controls", "wings": 1},
                {"type": "ping", "t": 1},
            ):
                call.channel.send(json.dumps(message))
            await asyncio.sleep(1.5)
            async with httpx.AsyncClient(base_url=server.url, headers=call.headers) as client:
                state = (await client.get(f"/v1/sessions/{call.session_id}")).json()
        finally:
            await call.close()
        replies = [json.loads(m) for m in call.channel_messages]
        return [r for r in replies if r["type"] != "server_stats"], state

    replies, state = asyncio.run(scenario())
    assert [r["type"] for r in replies] == ["controls", "error", "error", "error", "pong"]
    assert replies[0]["controls"]["emotion"] == "happy"
    assert [r.get("error") for r in replies[1:4]] == ["bad_control"] * 3
    assert state["controls"]["emotion_intensity"] == 0.8


def test_frames_carry_the_ai_label(server: ServerThread) -> None:
    """The label's dark box sits in the bottom-left corner of every frame, on by default."""

    async def scenario() -> list[np.ndarray]:
        call = await start_call(server.url, keep_rgb_every=10)
        await asyncio.sleep(2.0)
        await call.close()
        return [f.rgb for f in call.frames if f.rgb is not None]

    pictures = asyncio.run(scenario())
    assert pictures
    painter = LabelPainter("AI-generated")
    width, height = painter.size
    for rgb in pictures:
        box = rgb[512 - 10 - height : 512 - 10, 10 : 10 + width].astype(np.float32)
        bright = (box.min(axis=2) > 200).mean()  # the white letters
        assert 0.05 < bright < 0.6, bright
        assert np.median(box) < 110  # on a darkened box
