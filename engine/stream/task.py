"""What the worker thread holds for one stream, and the bounded channel its frames leave by.

FrameChannel: worker thread -> the stream's asyncio consumer. Bounded at `capacity` frames; the
policy is back-pressure: the worker produces a stream's next frame only when its channel has
room, so a slow consumer slows its own stream (and never grows a queue), and the latency that
the channel adds is at most `capacity` frames.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.errors import EngineError
from engine.render.renderer import AvatarRenderer
from engine.stream.pipeline import PipelineFrame, StreamPipeline
from engine.watermark.embed import WatermarkEmbedder


@dataclass(frozen=True)
class ReadyFrame:
    frame: PipelineFrame
    picture: NDArray[np.uint8] | None  # (512, 512, 3); None for a stream without video


class FrameChannel:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._frames: deque[ReadyFrame] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None
        self._closed = False
        self.error: BaseException | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called from the consumer's event loop before the worker may put frames."""
        self._loop = loop
        self._ready = asyncio.Event()

    def room(self) -> int:
        with self._lock:
            return 0 if self._closed else self.capacity - len(self._frames)

    def buffered(self) -> int:
        with self._lock:
            return len(self._frames)

    def put(self, frame: ReadyFrame) -> None:
        with self._lock:
            if self._closed:
                return
            self._frames.append(frame)
        self._wake()

    def close(self, error: BaseException | None = None) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.error = error
        self._wake()

    async def get(self) -> ReadyFrame | None:
        """The next frame; None once closed (raises EngineError if the stream failed)."""
        assert self._ready is not None, "bind() first"
        while True:
            with self._lock:
                if self._frames:
                    return self._frames.popleft()
                if self._closed:
                    break
                self._ready.clear()
            await self._ready.wait()
        if self.error is not None:
            raise EngineError(f"stream failed: {self.error}", reason="stream_failed")
        return None

    def _wake(self) -> None:
        loop, ready = self._loop, self._ready
        if loop is None or ready is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(ready.set)
        except RuntimeError:  # the consumer's loop closed meanwhile
            pass


class StreamTask:
    def __init__(
        self,
        name: str,
        pipeline: StreamPipeline,
        renderer: AvatarRenderer | None,
        realtime: bool,
        channel_capacity: int,
        watermark: WatermarkEmbedder | None,
    ) -> None:
        self.name = name
        self.watermark = watermark  # applied by the worker to every picture it renders
        self.pipeline = pipeline
        self.renderer = renderer  # None: the stream returns motion and audio, no pictures
        self.realtime = realtime
        self.channel = FrameChannel(channel_capacity)
        self.started = False  # the consumer has asked for frames
        self.anchor_s = 0.0  # monotonic time at which frame 0 was due
        self.last_picture: NDArray[np.uint8] | None = None
        self.late_frames = 0.0  # behind the media clock at the last frame planned (live)
        self.repeats = 0  # pictures repeated in a row up to the last frame planned (live)
        self.failed = False

    def start(self, now_s: float, loop: asyncio.AbstractEventLoop) -> None:
        self.channel.bind(loop)
        self.anchor_s = now_s
        self.started = True

    def fail(self, error: BaseException) -> None:
        self.failed = True
        self.channel.close(error)
