"""A reusable harness for stream tests: an engine on a small random motion model, and helpers
that drive one stream (push, pull frames, read events) inside one asyncio.run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from engine.contract import OutputFrame, SegmentEvent
from engine.stream.engine import AvatarStream, StreamEngine
from tests.test_motion_model import random_model, speech_like_audio

RATE_HZ = 16_000


@pytest.fixture(scope="module")
def engine() -> Iterator[StreamEngine]:
    """One engine (worker thread) per test module, on an untrained S model."""
    stream_engine = StreamEngine(model=random_model())
    yield stream_engine
    stream_engine.close()


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    return speech_like_audio(seconds, seed)


@dataclass
class Run:
    frames: list[OutputFrame] = field(default_factory=list)
    events: list[SegmentEvent] = field(default_factory=list)

    def speaking(self) -> list[bool]:
        return [f.speaking for f in self.frames]


Action = Callable[[AvatarStream, Run], None]


async def drive(
    stream: AvatarStream,
    frame_count: int,
    actions: dict[int, Action] | None = None,
    until: Callable[[Run], bool] | None = None,
) -> Run:
    """Pull frames (as fast as they come); before frame k is pulled run actions[k]; stop after
    frame_count frames or when `until(run)` holds. Events are gathered as they are due."""
    run = Run()
    actions = actions or {}
    if 0 in actions:
        actions[0](stream, run)
    async for frame in stream.frames():
        run.frames.append(frame)
        run.events.extend(stream.take_events())
        if len(run.frames) >= frame_count or (until is not None and until(run)):
            break
        if len(run.frames) in actions:
            actions[len(run.frames)](stream, run)
    return run


def drive_sync(
    stream: AvatarStream,
    frame_count: int,
    actions: dict[int, Action] | None = None,
    until: Callable[[Run], bool] | None = None,
) -> Run:
    async def main() -> Run:
        try:
            return await drive(stream, frame_count, actions, until)
        finally:
            await stream.close()

    return asyncio.run(main())


def finished(run: Run) -> bool:
    return any(e.kind == "finished" for e in run.events)


def drive_offline_together(streams: list[AvatarStream], frame_count: int = 20) -> list[Run]:
    """Offline streams served at once: stream i speaks 0.6 s of speech(seed=i), then each is
    pulled for frame_count frames and closed."""

    async def together() -> list[Run]:
        for i, stream in enumerate(streams):
            stream.push_audio(speech(0.6, seed=i), RATE_HZ)
            stream.end_segment()
        runs = await asyncio.gather(*(drive(s, frame_count) for s in streams))
        for stream in streams:
            await stream.close()
        return list(runs)

    return asyncio.run(together())
