"""Offline render: the streaming pipeline fed from a file as fast as it goes, muxed to MP4.

There is one code path: an offline stream (realtime=False) of the same `StreamEngine`, fed the
file's audio in chunks as a live caller would (at its own rate and channel count), ended, and
drained until the segment's "finished" event. Video is H.264 (yuv420p), audio AAC, muxed with
PyAV; both tracks take their pts from the stream's frames, so the file is in sync by
construction. Offline streams never drop or repeat frames, so a seed gives the same file.
The motion each frame shows can also be written as an ARKit blendshape track (CSV or JSON,
engine.motion.blendshapes); a stream without "video" in its outputs decodes no frame at all.
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
from engine.motion.blendshapes import BlendshapeTrack, write_track
from engine.stream.engine import StreamEngine
from engine.stream.session import AvatarStream
from models.motion_space import MOTION_DIM

FEED_CHUNK_S = 1.0
FEED_AHEAD_S = 4.0  # keep this much audio queued ahead of the worker
FEED_POLL_S = 0.01
H264_OPTIONS = {"crf": "18", "preset": "ultrafast", "threads": "1"}


@dataclass(frozen=True)
class BlendshapeOutput:
    path: Path  # .csv or .json
    rate_hz: int


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
        assert frame.video is not None, "a stream with video in its outputs"
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


def render_samples(
    avatar: PreparedAvatar,
    audio: NDArray[np.float32],
    rate_hz: int,
    output: Path | None,
    options: StreamOptions,
    *,
    engine: StreamEngine | None = None,
    progress: bool = True,
    blendshapes: BlendshapeOutput | None = None,
) -> RenderSummary:
    """(S, C) float32 speech at rate_hz (a file read by read_audio_file, or engine.voice's
    speech) -> the MP4 at `output` (None: options without "video") and/or the blendshape track."""
    owned = engine is None
    engine = engine or StreamEngine(threads=1)
    try:
        summary, motion = asyncio.run(
            _render(engine, avatar, audio, rate_hz, output, options, progress)
        )
    finally:
        if owned:
            engine.close()
    if blendshapes is not None:
        track = BlendshapeTrack.from_motion(
            motion, options.fps, blendshapes.rate_hz, duration_s=summary.audio_s
        )
        write_track(blendshapes.path, track)
    return summary


async def _render(
    engine: StreamEngine,
    avatar: PreparedAvatar,
    audio: NDArray[np.float32],
    rate_hz: int,
    output: Path | None,
    options: StreamOptions,
    progress: bool,
) -> tuple[RenderSummary, NDArray[np.float32]]:
    """-> the summary and the model motion of every frame, (frames, MOTION_DIM)."""
    start = time.perf_counter()
    stream = engine.create_stream(avatar, options, realtime=False)
    expected_frames = -(-len(audio) * options.fps // rate_hz)
    writer = Mp4Writer(output, options.fps) if output is not None else None
    motion: list[NDArray[np.float32]] = []
    # The first chunk is queued before frames are asked for: the file starts at frame 0.
    _push(stream, audio[: int(FEED_CHUNK_S * rate_hz)], rate_hz)
    feeder = asyncio.create_task(_feed(stream, audio, rate_hz))
    frames = 0
    try:
        with tqdm(total=expected_frames, unit="frame", disable=not progress) as bar:
            async for frame in _until_finished(stream):
                if writer is not None:
                    writer.write(frame)
                assert frame.motion is not None
                motion.append(frame.motion)
                frames += 1
                bar.update(1)
        await feeder
    finally:
        feeder.cancel()
        if writer is not None:
            writer.close()
        await stream.close()
    summary = RenderSummary(frames, len(audio) / rate_hz, time.perf_counter() - start)
    return summary, np.stack(motion) if motion else np.zeros((0, MOTION_DIM), np.float32)


def render_frames(
    engine: StreamEngine,
    avatar: PreparedAvatar,
    audio: NDArray[np.float32],
    rate_hz: int,
    options: StreamOptions,
) -> list[NDArray[np.uint8]]:
    """The pictures of an offline render of (S, C) audio, in memory (for measurements); the
    options must include the video output."""
    if not options.renders_video:
        raise ValueError("render_frames needs the video output")

    async def collect() -> list[NDArray[np.uint8]]:
        stream = engine.create_stream(avatar, options, realtime=False)
        _push(stream, audio[: int(FEED_CHUNK_S * rate_hz)], rate_hz)
        feeder = asyncio.create_task(_feed(stream, audio, rate_hz))
        try:
            pictures = [
                frame.video async for frame in _until_finished(stream) if frame.video is not None
            ]
            await feeder
        finally:
            feeder.cancel()
            await stream.close()
        return pictures

    return asyncio.run(collect())


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
