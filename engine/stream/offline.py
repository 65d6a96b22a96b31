"""Offline render: the streaming pipeline fed from a file as fast as it goes, muxed to MP4.

There is one code path: an offline stream (realtime=False) of the same `StreamEngine`, fed the
file's audio in chunks as a live caller would (at its own rate and channel count), ended, and
drained until the segment's "finished" event. Video is H.264 (yuv420p), audio AAC, muxed with
PyAV; both tracks take their pts from the stream's frames, so the file is in sync by
construction. Offline streams never drop or repeat frames, so a seed gives the same file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from engine.avatar.prepared import PreparedAvatar
from engine.contract import OUTPUT_AUDIO_RATE_HZ, OutputFrame, StreamOptions
from engine.stream.audio_input import read_audio_file
from engine.stream.engine import AvatarStream, StreamEngine

FEED_CHUNK_S = 1.0
FEED_AHEAD_S = 4.0  # keep this much audio queued ahead of the worker
FEED_POLL_S = 0.01
H264_OPTIONS = {"crf": "18", "preset": "ultrafast", "threads": "1"}


@dataclass(frozen=True)
class RenderSummary:
    frames: int
    audio_s: float
    wall_s: float

    @property
    def speed(self) -> float:
        """Seconds of video per second of wall time."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")


class Mp4Writer:
    def __init__(self, path: Path, fps: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), mode="w")
        self._video = self._container.add_stream("libx264", rate=fps, options=H264_OPTIONS)
        self._video.width = self._video.height = 512
        self._video.pix_fmt = "yuv420p"
        self._video.codec_context.time_base = Fraction(1, fps)
        self._audio = self._container.add_stream("aac", rate=OUTPUT_AUDIO_RATE_HZ, layout="mono")
        self._resampler = av.AudioResampler(
            format="fltp", layout="mono", rate=OUTPUT_AUDIO_RATE_HZ, frame_size=1024
        )

    def write(self, frame: OutputFrame) -> None:
        picture = av.VideoFrame.from_ndarray(frame.video, format="rgb24")
        picture.pts = frame.index
        self._container.mux(self._video.encode(picture))
        sound = av.AudioFrame.from_ndarray(frame.audio[None], format="s16", layout="mono")
        sound.sample_rate = OUTPUT_AUDIO_RATE_HZ
        sound.pts = frame.audio_pts
        for chunk in self._resampler.resample(sound):
            self._container.mux(self._audio.encode(chunk))

    def close(self) -> None:
        for chunk in self._resampler.resample(None):
            self._container.mux(self._audio.encode(chunk))
        self._container.mux(self._video.encode(None))
        self._container.mux(self._audio.encode(None))
        self._container.close()


def render_file(
    avatar: PreparedAvatar,
    audio_path: Path,
    output: Path,
    options: StreamOptions,
    *,
    engine: StreamEngine | None = None,
    progress: bool = True,
) -> RenderSummary:
    audio, rate_hz = read_audio_file(audio_path)  # (S, C)
    owned = engine is None
    engine = engine or StreamEngine(threads=1)
    try:
        return asyncio.run(_render(engine, avatar, audio, rate_hz, output, options, progress))
    finally:
        if owned:
            engine.close()


async def _render(
    engine: StreamEngine,
    avatar: PreparedAvatar,
    audio: NDArray[np.float32],
    rate_hz: int,
    output: Path,
    options: StreamOptions,
    progress: bool,
) -> RenderSummary:
    start = time.perf_counter()
    stream = engine.create_stream(avatar, options, realtime=False)
    expected_frames = -(-len(audio) * options.fps // rate_hz)
    writer = Mp4Writer(output, options.fps)
    # The first chunk is queued before frames are asked for: the file starts at frame 0.
    _push(stream, audio[: int(FEED_CHUNK_S * rate_hz)], rate_hz)
    feeder = asyncio.create_task(_feed(stream, audio, rate_hz))
    frames = 0
    try:
        with tqdm(total=expected_frames, unit="frame", disable=not progress) as bar:
            async for frame in _until_finished(stream):
                writer.write(frame)
                frames += 1
                bar.update(1)
        await feeder
    finally:
        feeder.cancel()
        writer.close()
        await stream.close()
    return RenderSummary(frames, len(audio) / rate_hz, time.perf_counter() - start)


async def _feed(stream: AvatarStream, audio: NDArray[np.float32], rate_hz: int) -> None:
    """Push the file in FEED_CHUNK_S chunks, keeping FEED_AHEAD_S queued, then end it."""
    chunk = int(FEED_CHUNK_S * rate_hz)
    for begin in range(chunk, len(audio), chunk):
        # The queue drains on the worker thread, which has no event to signal; offline only.
        while stream.queued_audio_s > FEED_AHEAD_S:  # noqa: ASYNC110
            await asyncio.sleep(FEED_POLL_S)
        _push(stream, audio[begin : begin + chunk], rate_hz)
    stream.end_segment()


def _push(stream: AvatarStream, audio: NDArray[np.float32], rate_hz: int) -> None:
    stream.push_audio(np.ascontiguousarray(audio).reshape(-1), rate_hz, audio.shape[1])


async def _until_finished(stream: AvatarStream) -> AsyncIterator[OutputFrame]:
    """Frames up to and including the one that plays the segment's last sample."""
    async for frame in stream.frames():
        yield frame
        if any(event.kind == "finished" for event in stream.take_events()):
            return
