"""GiocondaVideoGenerator against livekit-agents' own classes: the real `AvatarRunner` and
`rtc.AVSynchronizer`, fed by the real `QueueAudioOutput` (the agent-side AudioOutput that is
also the avatar's AudioReceiver), with real `rtc.AudioFrame`s and `AudioSegmentEnd`.

Audio in -> video and audio out in sync (each picture has 1/fps of speech beside it while
speaking); the segment's end -> playback_finished at its length; clear_buffer ->
playback_finished with the position reached and interrupted=True, and no more speech.

Not run here: no LiveKit server can run on this machine, so the runner never publishes its
tracks (the test marks them published) and the `lk.audio_stream` byte stream
(DataStreamAudioOutput/Receiver) is not exercised. Skips without the [livekit] extra; like the
Pipecat test it runs in .venv-agents, on the built-in portrait that ships prepared (docs/agents.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

pytest.importorskip("livekit.agents")

from livekit import rtc  # noqa: E402
from livekit.agents.voice.avatar import (  # noqa: E402
    AudioSegmentEnd,
    AvatarOptions,
    AvatarRunner,
    QueueAudioOutput,
)

from engine.contract import StreamOptions  # noqa: E402
from engine.stream.engine import StreamEngine  # noqa: E402
from server.integrations.livekit.video import GiocondaVideoGenerator  # noqa: E402
from tests.stream_harness import engine, speech  # noqa: E402, F401

FPS = 25
AGENT_RATE_HZ = 24_000
CHUNK = AGENT_RATE_HZ // 100  # 10 ms, as LiveKit's TTS frames


def agent_frames(seconds: float) -> list[rtc.AudioFrame]:
    import soxr

    audio = soxr.resample(speech(seconds), 16_000, AGENT_RATE_HZ)
    pcm = np.clip(audio * 32767, -32768, 32767).astype(np.int16)
    return [
        rtc.AudioFrame(pcm[i : i + CHUNK].tobytes(), AGENT_RATE_HZ, 1, len(pcm[i : i + CHUNK]))
        for i in range(0, len(pcm), CHUNK)
    ]


def test_runner_publishes_synced_frames_and_answers_segment_end_and_clear(
    engine: StreamEngine,  # noqa: F811
    prepared_avatar: Any,
) -> None:
    out: list[object] = []  # what the runner pushed into the AV synchronizer, in order
    finished: list[Any] = []

    async def scenario() -> None:
        changed = asyncio.Event()

        async def until(condition: Any) -> None:
            while not condition():
                changed.clear()
                await asyncio.wait_for(changed.wait(), 30)

        stream = engine.create_stream(
            prepared_avatar("astronaut.png"), StreamOptions(avatar_id="astronaut", fps=FPS)
        )
        generator = GiocondaVideoGenerator(stream)
        agent_audio = QueueAudioOutput(sample_rate=AGENT_RATE_HZ)
        agent_audio.on("playback_finished", lambda ev: (finished.append(ev), changed.set()))
        runner = AvatarRunner(
            rtc.Room(),
            audio_recv=agent_audio,
            video_gen=generator,
            options=AvatarOptions(512, 512, FPS, 16_000, 1),
        )
        runner._video_publication = True  # no LiveKit server: skip publishing, run the rest
        real_push = runner.av_sync.push

        async def spy(frame: rtc.VideoFrame | rtc.AudioFrame) -> None:
            out.append(frame)
            changed.set()
            await real_push(frame)

        runner.av_sync.push = spy  # type: ignore[method-assign]
        await runner.start()
        try:
            for frame in agent_frames(1.5):
                await agent_audio.capture_frame(frame)
            agent_audio.flush()  # -> AudioSegmentEnd
            await until(lambda: finished)
            out.append("second")
            for frame in agent_frames(4.0):
                await agent_audio.capture_frame(frame)
            agent_audio.flush()
            await until(lambda: _speech_s(out[out.index("second") :]) >= 1.0)
            out.append("clear")
            agent_audio.clear_buffer()
            await until(lambda: len(finished) == 2)
            await until(lambda: _pictures(out[out.index("clear") :]) >= 2 * FPS)
        finally:
            await runner.aclose()
            await stream.close()

    asyncio.run(scenario())
    first, cut = finished
    assert not first.interrupted and first.playback_position == pytest.approx(1.5, abs=0.05)
    assert cut.interrupted and 0.9 < cut.playback_position < 2.0, cut

    # In sync: while speaking, every picture is followed by exactly 1/fps of 16 kHz speech.
    pictures = [i for i, f in enumerate(out) if isinstance(f, rtc.VideoFrame)]
    assert all(out[i].width == 512 and out[i].height == 512 for i in pictures)
    sounds = [f for f in out if isinstance(f, rtc.AudioFrame)]
    assert {(f.sample_rate, f.samples_per_channel) for f in sounds} == {(16_000, 16_000 // FPS)}
    assert all(isinstance(out[i - 1], rtc.VideoFrame) for i, f in enumerate(out) if f in sounds)
    # The first segment played whole; after the clear, at most two frames of speech follow.
    assert _speech_s(out[: out.index("second")]) == pytest.approx(1.5, abs=2 / FPS)
    assert _speech_s(out[out.index("clear") :]) <= 2 / FPS
    assert not any(isinstance(f, AudioSegmentEnd) for f in out)  # the runner consumes them


def _speech_s(frames: list[object]) -> float:
    return sum(f.duration for f in frames if isinstance(f, rtc.AudioFrame))


def _pictures(frames: list[object]) -> int:
    return sum(isinstance(f, rtc.VideoFrame) for f in frames)
