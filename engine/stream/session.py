"""One live session (or offline render) on the shared engine: `AvatarStream`.

It satisfies `engine.contract.SessionStream`. Every method is safe on the event loop: audio,
ends, clears and controls are queued for the worker; frames and events come back through
bounded channels. Departure (a frame leaving frames()) is where segment events fire, where
clear() mutes audio that was already placed, and where the live media clock is anchored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from engine.contract import (
    OUTPUT_AUDIO_RATE_HZ,
    Controls,
    OutputFrame,
    SegmentEvent,
    StreamOptions,
)
from engine.errors import EngineError
from engine.stream.audio_input import AudioInput, validate_chunk
from engine.stream.options import validate_controls
from engine.stream.speech_queue import SpeechQueue
from engine.stream.task import ReadyFrame, StreamTask
from engine.stream.timeline import frame_video_pts

MAX_EVENTS = 256  # per stream; when full the oldest event is dropped (a consumer that never reads)


class EngineHooks(Protocol):
    def notify(self) -> None: ...

    def release(self, task: StreamTask) -> None: ...


class AvatarStream:
    def __init__(
        self, engine: EngineHooks, task: StreamTask, queue: SpeechQueue, options: StreamOptions
    ) -> None:
        self.options = options
        self._engine = engine
        self._task = task
        self._queue = queue
        self._input = AudioInput()
        self._events: asyncio.Queue[SegmentEvent | None] = asyncio.Queue(MAX_EVENTS + 1)
        self._playing: dict[int, int] = {}  # segment id -> samples played, until it finishes
        self._cleared_below = 0
        self._closed = False

    @property
    def queued_audio_s(self) -> float:
        return self._queue.queued_s

    @property
    def underruns(self) -> int:
        return self._task.pipeline.underruns

    def push_audio(
        self, samples: NDArray[np.generic], sample_rate_hz: int, channels: int = 1
    ) -> None:
        self._check_open()
        validate_chunk(samples, sample_rate_hz, channels)
        self._queue.check_room(np.asarray(samples).size // channels * 16_000 // sample_rate_hz)
        mono = self._input.push(samples, sample_rate_hz, channels)
        segment_id, opened = self._queue.push(mono, time.monotonic())
        if opened:
            self._playing[segment_id] = 0
        self._engine.notify()

    def end_segment(self) -> None:
        self._check_open()
        if self._queue.open_segment is None:
            return
        self._queue.push(self._input.flush(), time.monotonic())
        self._queue.end()
        self._engine.notify()

    def clear(self) -> None:
        self._check_open()
        self._input.flush()
        self._queue.clear()
        self._cleared_below = self._queue.cleared_below
        for segment_id, played in sorted(self._playing.items()):
            self._emit("finished", segment_id, played, interrupted=True)
        self._playing.clear()
        self._engine.notify()

    def set_controls(self, controls: Controls) -> None:
        self._check_open()
        validate_controls(controls)
        self._task.pipeline.set_controls(controls)
        self.options = replace(self.options, controls=controls)
        self._engine.notify()

    async def frames(self) -> AsyncIterator[OutputFrame]:
        if not self._task.started:
            self._task.start(time.monotonic(), asyncio.get_running_loop())
            self._engine.notify()
        while True:
            ready = await self._task.channel.get()
            if ready is None:
                return
            self._engine.notify()  # the channel has room again
            yield self._depart(ready)

    async def events(self) -> AsyncIterator[SegmentEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    def take_events(self) -> list[SegmentEvent]:
        """Events already due, without waiting (for a consumer that also drives frames())."""
        events = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if event is not None:
                events.append(event)
        return events

    async def close(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Synchronous close (idempotent): stop producing, end frames() and events()."""
        if self._closed:
            return
        self._closed = True
        self._engine.release(self._task)
        self._task.channel.close()
        self._push_event(None)

    def owns(self, task: StreamTask) -> bool:
        return task is self._task

    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("the stream is closed", reason="stream_closed")
        if self._task.failed:
            raise EngineError("the stream failed and was closed", reason="stream_failed")

    def _depart(self, ready: ReadyFrame) -> OutputFrame:
        frame, audio = ready.frame, ready.frame.audio
        if frame.index == 0:
            self._task.anchor_s = time.monotonic()
        self._task.pipeline.departed_frames = frame.index + 1
        muted = audio.segment_id is not None and audio.segment_id < self._cleared_below
        for mark in audio.marks:
            if mark.segment_id >= self._cleared_below:
                self._emit(mark.kind, mark.segment_id, mark.segment_samples)
        speaking = audio.segment_id is not None and not muted
        if speaking and audio.segment_id in self._playing:
            self._playing[audio.segment_id] = audio.segment_samples
        pcm = np.zeros(len(audio.samples), np.int16) if muted else to_int16(audio.samples)
        return OutputFrame(
            index=frame.index,
            video=ready.picture,
            video_pts=frame_video_pts(frame.index, self.options.fps),
            audio=pcm,
            audio_pts=audio.start,
            speaking=speaking,
            audio_arrival_s=audio.arrival_s if speaking else None,
        )

    def _emit(
        self, kind: str, segment_id: int, played_samples: int, interrupted: bool = False
    ) -> None:
        if kind == "finished":
            self._playing.pop(segment_id, None)
        position_s = played_samples / OUTPUT_AUDIO_RATE_HZ
        event = SegmentEvent(
            "started" if kind == "started" else "finished", segment_id, position_s, interrupted
        )
        self._push_event(event)

    def _push_event(self, event: SegmentEvent | None) -> None:
        if self._events.full():
            self._events.get_nowait()
        self._events.put_nowait(event)


def to_int16(samples: NDArray[np.float32]) -> NDArray[np.int16]:
    pcm: NDArray[np.int16] = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    return pcm
