"""Frames in and out of compressed video for the detector and the benchmark (PyAV)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray

WINDOW_S = 1.0  # detection decides over windows of this much video


def read_windows(
    source: Path | io.BytesIO, window_s: float = WINDOW_S
) -> Iterator[list[NDArray[np.uint8]]]:
    """Consecutive windows of RGB frames (the last may be shorter, but never empty)."""
    with av.open(source, "r") as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        per_window = max(1, round(rate * window_s))
        window: list[NDArray[np.uint8]] = []
        for frame in container.decode(stream):
            window.append(np.asarray(frame.to_ndarray(format="rgb24"), np.uint8))
            if len(window) == per_window:
                yield window
                window = []
        if window:
            yield window


def encode(frames: list[NDArray[np.uint8]], codec: str, bit_rate_kbps: int, fps: int) -> io.BytesIO:
    """Frames -> an in-memory WebM (libvpx, VP8) or MP4 (libx264) at a target bit rate."""
    buffer = io.BytesIO()
    container = av.open(buffer, "w", format="webm" if codec == "libvpx" else "mp4")
    stream = container.add_stream(codec, rate=fps)
    assert isinstance(stream, av.VideoStream)
    stream.height, stream.width = frames[0].shape[:2]
    stream.pix_fmt = "yuv420p"
    stream.bit_rate = bit_rate_kbps * 1000
    if codec == "libvpx":  # as aiortc's WebRTC sender (aiortc/codecs/vpx.py) runs it: CBR
        stream.codec_context.qmin, stream.codec_context.qmax = 2, 56
        rate = str(bit_rate_kbps * 1000)
        stream.options = {
            "bufsize": rate,
            "minrate": rate,
            "maxrate": rate,
            "cpu-used": "-6",
            "deadline": "realtime",
            "lag-in-frames": "0",
            "noise-sensitivity": "4",
            "overshoot-pct": "15",
            "undershoot-pct": "100",
            "static-thresh": "1",
            "threads": "1",
        }
    else:
        stream.options = {"preset": "veryfast", "threads": "1"}
    for index, rgb in enumerate(frames):
        picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        picture.pts = index
        container.mux(stream.encode(picture))
    container.mux(stream.encode(None))
    container.close()
    buffer.seek(0)
    return buffer
