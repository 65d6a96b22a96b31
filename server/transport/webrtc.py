"""aiortc transport: the avatar's frames, paced by the media clock, onto a video and an audio
track; the browser's audio into the engine, and the loopback ICE option.

One `MediaClockPump` per session pulls `OutputFrame`s from the engine at 1/fps, hands the picture
to `AvatarVideoTrack` and the matching audio to `AvatarAudioTrack` at the same instant, so the
viewer hears each sample with the frame that shows it. The queues between pump and tracks are
bounded and drop the oldest item: a slow encoder loses frames, it never accumulates delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import aioice.ice
import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from numpy.typing import NDArray

from engine.contract import (
    OUTPUT_AUDIO_RATE_HZ,
    VIDEO_CLOCK_HZ,
    OutputFrame,
    SessionStream,
)
from engine.errors import AudioError
from server.metrics import Metrics
from server.settings import IceLoopback
from server.transport.pacing import LabelPainter

log = logging.getLogger(__name__)

VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)
AUDIO_TIME_BASE = fractions.Fraction(1, OUTPUT_AUDIO_RATE_HZ)
VIDEO_QUEUE_FRAMES = 2  # the encoder is at most this far behind the clock before frames drop
AUDIO_QUEUE_FRAMES = 8  # audio is cheap; a little more slack keeps it gapless
CLOCK_RESET_FRAMES = 8  # when the engine falls this far behind the clock, restart the clock
LATENCY_WINDOW_FRAMES = 80  # the latency shown to the page: the median of the last 2 s of speech
INPUT_AUDIO_RATE_HZ = 16_000  # browser audio is resampled to the engine's rate here (PyAV)

T = TypeVar("T")

_original_host_addresses = aioice.ice.get_host_addresses
_loopback_mode = IceLoopback.OFF


def configure_ice_loopback(mode: IceLoopback) -> None:
    """Process-wide: make aioice offer 127.0.0.1 (add) or only 127.0.0.1 (only).

    aioice leaves loopback out of its host candidates, so a browser on the same machine, or a
    test that must keep its traffic on loopback, cannot connect without this."""
    global _loopback_mode
    _loopback_mode = mode
    aioice.ice.get_host_addresses = _host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _loopback_mode is IceLoopback.ONLY:
        return ["127.0.0.1"] if use_ipv4 else []
    addresses = list(_original_host_addresses(use_ipv4, use_ipv6))
    if _loopback_mode is IceLoopback.ADD and use_ipv4:
        addresses.append("127.0.0.1")
    return addresses


def filter_remote_candidates(sdp: str) -> str:
    """In loopback-only mode, drop the peer's candidates that are not 127.0.0.1 (and mDNS names),
    so no check is ever sent to another address; the peer's loopback checks still pair up."""
    if _loopback_mode is not IceLoopback.ONLY:
        return sdp
    lines = sdp.splitlines()
    kept = [line for line in lines if not line.startswith("a=candidate:") or " 127.0.0.1 " in line]
    return "\r\n".join(kept) + "\r\n"


class DropOldestQueue(Generic[T]):
    """A bounded queue whose put never waits: when full, the oldest item goes (and is counted)."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self.dropped = 0

    def put(self, item: T) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    async def get(self) -> T:
        return await self._queue.get()


@dataclass(frozen=True)
class PacedVideo:
    rgb: NDArray[np.uint8]
    pts: int
    audio_arrival_s: float | None


class AvatarVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.queue: DropOldestQueue[PacedVideo] = DropOldestQueue(VIDEO_QUEUE_FRAMES)
        self._metrics = metrics
        self.recent_latency_s: deque[float] = deque(maxlen=LATENCY_WINDOW_FRAMES)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        item = await self.queue.get()
        frame = av.VideoFrame.from_ndarray(item.rgb, format="rgb24")
        frame.pts = item.pts
        frame.time_base = VIDEO_TIME_BASE
        self._metrics.frames_sent.inc()
        if item.audio_arrival_s is not None:
            latency_s = time.monotonic() - item.audio_arrival_s
            self._metrics.frame_latency.observe(latency_s)
            self.recent_latency_s.append(latency_s)
        return frame


class AvatarAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.queue: DropOldestQueue[tuple[NDArray[np.int16], int]] = DropOldestQueue(
            AUDIO_QUEUE_FRAMES
        )

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        samples, pts = await self.queue.get()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = OUTPUT_AUDIO_RATE_HZ
        frame.pts = pts
        frame.time_base = AUDIO_TIME_BASE
        return frame


class MediaClockPump:
    """Pulls frames from the engine at the media clock and feeds both tracks at once."""

    def __init__(
        self,
        stream: SessionStream,
        video: AvatarVideoTrack,
        audio: AvatarAudioTrack,
        *,
        fps: int,
        label: LabelPainter | None,
        metrics: Metrics,
        on_frame: Callable[[OutputFrame], None] | None = None,
    ) -> None:
        self._stream = stream
        self._video = video
        self._audio = audio
        self._fps = fps
        self._label = label
        self._metrics = metrics
        self._on_frame = on_frame
        self.frames_pulled = 0
        self.speaking = False  # the last frame's audio belongs to a speech segment

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        clock_start: float | None = None
        async for frame in self._stream.frames():
            now = loop.time()
            if clock_start is None:
                clock_start = now - frame.index / self._fps
            due = clock_start + frame.index / self._fps
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > CLOCK_RESET_FRAMES / self._fps:
                # The engine fell behind (CPU contention): restart the clock instead of sending
                # a burst of stale frames to catch up.
                clock_start = now - frame.index / self._fps
            self._deliver(frame)

    def _deliver(self, frame: OutputFrame) -> None:
        rgb = self._label.paint(frame.video) if self._label is not None else frame.video
        before = self._video.queue.dropped
        self._video.queue.put(PacedVideo(rgb, frame.video_pts, frame.audio_arrival_s))
        self._metrics.frames_dropped.inc(self._video.queue.dropped - before)
        self._audio.queue.put((frame.audio, frame.audio_pts))
        self.frames_pulled += 1
        self.speaking = frame.speaking
        if self._on_frame is not None:
            self._on_frame(frame)


async def consume_browser_audio(
    track: MediaStreamTrack, stream: SessionStream, on_audio: Callable[[], None]
) -> None:
    """The peer's audio track (microphone or a file the page plays) -> 16 kHz mono -> engine."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=INPUT_AUDIO_RATE_HZ)
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            assert isinstance(frame, av.AudioFrame)
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                try:
                    stream.push_audio(samples, INPUT_AUDIO_RATE_HZ)
                except AudioError as exc:  # e.g. the speech queue is full: drop, keep the call
                    log.warning("browser audio dropped: %s", exc)
            on_audio()
