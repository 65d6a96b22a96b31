"""GiocondaVideoService in a real Pipecat pipeline (PipelineWorker + WorkerRunner, pipecat 1.x):
TTS audio frames in -> one 512x512 picture per 1/fps with exactly 1/fps of speech audio beside
it, idle pictures (and no audio) when nobody speaks, the mouth opening with the speech, and an
InterruptionFrame that stops the speech and returns the face to idle within a stated bound.

Skips without the [pipecat] extra. Pipecat needs protobuf>=5 and mediapipe 0.10.21 breaks with
it, so that environment has no mediapipe: it renders the built-in portrait, which ships prepared
(docs/agents.md). Counts frames; never reads the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
import soxr

pipecat = pytest.importorskip("pipecat")

from pipecat.frames.frames import (  # noqa: E402
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from engine.contract import StreamOptions  # noqa: E402
from engine.stream.engine import StreamEngine  # noqa: E402
from server.integrations.pipecat import GiocondaVideoService  # noqa: E402

FPS = 25  # not the default 40, to show the configured rate is the one kept
TRACK_REACH_PX = 24  # the head moves less than this between pictures of one test
ALIGN_PX = 2  # the lips' box is compared at the best of these shifts (sub-template drift)
TTS_RATE_HZ = 24_000  # a typical TTS rate; the service resamples
SAMPLES_PER_FRAME = 16_000 // FPS
# After an InterruptionFrame: speech audio stops within 2 frames (the one in flight and the one
# in the engine's channel), and the mouth is back to its idle opening within 12 frames (0.48 s:
# one low-latency motion window plus lookahead, plus the frames already made).
SPEECH_STOPS_WITHIN_FRAMES = 2
IDLE_WITHIN_FRAMES = 12


@dataclass
class Seen:
    """What reached the end of the pipeline, in order: pictures, and the audio beside each."""

    pictures: list[np.ndarray] = field(default_factory=list)
    audio_after_picture: list[int] = field(default_factory=list)  # samples after picture k
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Collector(FrameProcessor):  # type: ignore[misc]
    def __init__(self, seen: Seen) -> None:
        super().__init__()
        self.seen = seen

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputImageRawFrame):
            assert frame.size == (512, 512) and frame.format == "RGB"
            self.seen.pictures.append(np.frombuffer(frame.image, np.uint8).reshape(512, 512, 3))
            self.seen.audio_after_picture.append(0)
            self.seen.changed.set()
        elif isinstance(frame, TTSAudioRawFrame):
            assert frame.sample_rate == 16_000 and frame.num_channels == 1
            self.seen.audio_after_picture[-1] += len(frame.audio) // 2
        await self.push_frame(frame, direction)


@pytest.fixture(scope="module")
def engine() -> Iterator[StreamEngine]:
    stream_engine = StreamEngine(threads=1)  # the shipped motion model: lips follow speech
    yield stream_engine
    stream_engine.close()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 2.5 s of real speech from the built-in voice, at TTS_RATE_HZ int16."""
    from engine.voice.base import synthesize_text
    from engine.voice.select import load_voice

    audio = synthesize_text(load_voice(), "The quick brown fox jumps over the lazy dog.")
    resampled = soxr.resample(audio, 16_000, TTS_RATE_HZ)
    return np.clip(resampled * 32767, -32768, 32767).astype(np.int16)


def mouth_changes(pictures: list[np.ndarray], avatar) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Per picture: how much its lips' box changed since the picture before, as the mean absolute
    grey-level difference at the best alignment within +-2 px: a talking mouth changes from
    picture to picture, a still one (idle, whatever the slow head motion) hardly. (A dark-pixel
    count stopped following the mouth once an open mouth showed painted teeth and tongue instead
    of a dark hole, issue 12; a difference from the first picture grew with the head's turn.)

    No mediapipe here, so the head is tracked by template matching: the eyes-and-nose patch of
    the first picture (it does not change with speech) is found near its place in each picture,
    and the lips' box (from the avatar's own landmarks) moves with it."""
    import cv2

    marks = avatar.landmarks_px[:, :2]
    x0, x1 = (int(v) for v in marks[[61, 291], 0])
    y0, y1 = (int(v) for v in marks[[0, 17], 1])
    eyes_nose = marks[[33, 263, 168, 2]]
    (tx0, ty0), (tx1, ty1) = eyes_nose.min(axis=0).astype(int), eyes_nose.max(axis=0).astype(int)
    template = cv2.cvtColor(pictures[0][ty0:ty1, tx0:tx1], cv2.COLOR_RGB2GRAY)
    reach, shift = TRACK_REACH_PX, ALIGN_PX
    before: np.ndarray | None = None
    changes = []
    for picture in pictures:
        gray = cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)
        near = gray[ty0 - reach : ty1 + reach, tx0 - reach : tx1 + reach]
        _, _, _, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(near, template, cv2.TM_CCOEFF_NORMED))
        dx, dy = x - reach, y - reach
        here = gray[y0 + dy : y1 + dy, x0 + dx : x1 + dx].astype(np.float32)
        if before is None:
            before = here
        boxes = (
            gray[y0 + dy + j : y1 + dy + j, x0 + dx + i : x1 + dx + i]
            for j in range(-shift, shift + 1)
            for i in range(-shift, shift + 1)
        )
        changes.append(min(float(np.abs(box - before).mean()) for box in boxes))
        before = here
    return np.array(changes)


def tts_frames(speech: np.ndarray) -> list[Frame]:
    chunk = TTS_RATE_HZ // 50  # 20 ms, as TTS services stream
    audio = [
        TTSAudioRawFrame(
            audio=speech[i : i + chunk].tobytes(), sample_rate=TTS_RATE_HZ, num_channels=1
        )
        for i in range(0, len(speech), chunk)
    ]
    return [TTSStartedFrame(), *audio, TTSStoppedFrame()]


async def until(seen: Seen, condition: Callable[[Seen], bool]) -> None:
    while not condition(seen):
        seen.changed.clear()
        await asyncio.wait_for(seen.changed.wait(), 30)


def test_tts_audio_becomes_paced_pictures_with_synced_speech_and_interruption_goes_idle(
    engine: StreamEngine, speech: np.ndarray, prepared_avatar
) -> None:
    avatar = prepared_avatar("astronaut.png")
    service = GiocondaVideoService(
        avatar=avatar, engine=engine, options=StreamOptions(avatar_id="astronaut", fps=FPS)
    )
    seen = Seen()
    worker = PipelineWorker(Pipeline([service, Collector(seen)]), cancel_on_idle_timeout=False)
    marks: dict[str, int] = {}

    async def drive() -> None:
        await until(seen, lambda s: len(s.pictures) >= FPS)  # 1 s of idle first
        marks["speech_in"] = len(seen.pictures)
        for frame in tts_frames(speech):
            await worker.queue_frame(frame)
        speech_frames = len(speech) * FPS // TTS_RATE_HZ
        await until(seen, lambda s: len(s.pictures) >= marks["speech_in"] + speech_frames + 2 * FPS)
        marks["second_in"] = len(seen.pictures)
        for frame in tts_frames(speech):
            await worker.queue_frame(frame)
        await until(seen, lambda s: sum(s.audio_after_picture[marks["second_in"] :]) >= 16_000)
        marks["interrupted"] = len(seen.pictures)
        await worker.queue_frame(InterruptionFrame())
        await until(seen, lambda s: len(s.pictures) >= marks["interrupted"] + 2 * FPS)
        await worker.cancel()

    async def main() -> None:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await asyncio.gather(runner.run(), drive())

    asyncio.run(main())
    audio = np.array(seen.audio_after_picture)

    # Idle before any speech: pictures, no audio.
    assert not audio[: marks["speech_in"]].any()
    # While speaking, each picture has exactly 1/fps of speech beside it.
    first = marks["speech_in"] + int(np.argmax(audio[marks["speech_in"] :] > 0))
    spoken = audio[first : marks["second_in"]]
    talking = spoken[spoken > 0]
    assert set(talking.tolist()) == {SAMPLES_PER_FRAME}, np.unique(talking)
    # All of the first utterance came out (16 kHz) and nothing else.
    expected = len(speech) * 16_000 // TTS_RATE_HZ
    assert abs(int(spoken.sum()) - expected) <= 2 * SAMPLES_PER_FRAME, (spoken.sum(), expected)

    # The mouth follows the speech: it moves far more in frames with speech than without.
    change = mouth_changes(seen.pictures, avatar)
    window = slice(marks["speech_in"], marks["second_in"])
    with_speech = change[window][audio[window] > 0]
    without = change[window][audio[window] == 0]
    # Medians: a picture where the head tracking slips is one outlier, not a trend.
    assert np.median(with_speech) > 2.0 * np.median(without), (with_speech, without)

    # Interruption: speech stops at once and the mouth goes back to idle.
    cut = marks["interrupted"]
    after = audio[cut:]
    assert not after[SPEECH_STOPS_WITHIN_FRAMES:].any(), after[:10]
    idle_level = np.percentile(change[: marks["speech_in"]], 95) + 1.0  # grey levels
    settled = change[cut + IDLE_WITHIN_FRAMES : cut + 2 * FPS]
    assert np.median(settled) <= idle_level, (settled, idle_level)
    assert service.frames_pushed == len(seen.pictures)
