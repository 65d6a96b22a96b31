"""`gioconda bench watermark`: how well the invisible mark survives, what it costs, how it looks.

Renders `seconds` of speech on each shared portrait without the mark (the reference), marks the
frames with one payload (ms per frame, PSNR against the reference), applies each transform a
call or a re-upload does (real VP8/H.264 encodes through PyAV, a downscale, crops, tone changes,
a screen-recording-style re-encode) and reports, per transform, the share of 1 s windows in which
the detector finds the mark with the right payload. False positives: every 1 s window of the
unmarked renders (before and after H.264) and of real talking-head videos (../shared/data/video,
local only, used where present) must stay undetected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.watermark.detect import DETECT_FPR, Detection, detect_frames
from engine.watermark.embed import STRIP_FRAMES, WatermarkEmbedder
from engine.watermark.payload import WatermarkPayload
from engine.watermark.video import encode, read_windows

Frames = list[NDArray[Any]]  # (H, W, 3) uint8 RGB; cv2's stubs do not keep the dtype
PAYLOAD = WatermarkPayload(server_id=0x6C0D, stream_id=0xA11E)
FPS = 40
SCREEN_FPS = 30


@dataclass(frozen=True)
class TransformResult:
    name: str
    windows: int
    found: int  # detected with the right payload
    present: int  # detected (payload right, wrong or unreadable)
    min_z: float
    median_z: float


def _screen_recording(frames: Frames, tilt_deg: float = 0.0) -> Frames:
    """The call shown at 75 % in a 1280x720 desktop, a little gamma, recorded as H.264; with
    tilt_deg, the recording turned by that much (a camera filming the screen, not quite level)."""
    canvas = np.full((720, 1280, 3), 38, np.uint8)
    gamma = (np.linspace(0.0, 1.0, 256) ** 0.9 * 255).astype(np.uint8)
    turn = cv2.getRotationMatrix2D((640.0, 360.0), tilt_deg, 1.0)
    shots = []
    for rgb in frames:
        shot: NDArray[Any] = canvas.copy()
        shot[140:524, 410:794] = cv2.resize(rgb, (384, 384), interpolation=cv2.INTER_AREA)
        if tilt_deg:
            shot = cv2.warpAffine(shot, turn, (1280, 720), borderValue=(38, 38, 38))
        shots.append(cv2.LUT(shot, gamma))
    return _decoded(shots, "libx264", 2000, SCREEN_FPS)


def _decoded(frames: Frames, codec: str, kbps: int, fps: int = FPS) -> Frames:
    return [frame for window in read_windows(encode(frames, codec, kbps, fps)) for frame in window]


def _each(change: Callable[[NDArray[Any]], NDArray[Any]]) -> Callable[[Frames], Frames]:
    return lambda frames: [change(frame) for frame in frames]


TRANSFORMS: dict[str, Callable[[Frames], Frames]] = {
    "none": lambda frames: frames,
    "vp8-300k": lambda frames: _decoded(frames, "libvpx", 300),
    "vp8-1000k": lambda frames: _decoded(frames, "libvpx", 1000),
    "h264-300k": lambda frames: _decoded(frames, "libx264", 300),
    "h264-1000k": lambda frames: _decoded(frames, "libx264", 1000),
    "downscale-256": _each(lambda f: cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA)),
    "downscale-256+h264-300k": lambda frames: _decoded(
        [cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA) for f in frames], "libx264", 300
    ),
    "crop-10%": _each(lambda f: f[35:496, 16:477]),
    "crop-10%-resized": _each(lambda f: cv2.resize(f[26:487, 26:487], (512, 512))),
    "brightness+contrast": _each(lambda f: np.clip(f * 0.8 + 35, 0, 255).astype(np.uint8)),
    "darker+contrast": _each(lambda f: np.clip(f * 1.2 - 40, 0, 255).astype(np.uint8)),
    "screen-recording": _screen_recording,
    "screen-recording-tilted-2deg": lambda frames: _screen_recording(frames, 2.0),
    "rotated-3deg": _each(
        lambda f: cv2.warpAffine(f, cv2.getRotationMatrix2D((256.0, 256.0), -3.0, 1.0), (512, 512))
    ),
}


def windows_of(frames: Frames, fps: int) -> list[Frames]:
    return [frames[i : i + fps] for i in range(0, len(frames) - fps + 1, fps)]


def measure_transform(name: str, marked: Frames) -> TransformResult:
    frames = TRANSFORMS[name](marked)
    fps = SCREEN_FPS if name.startswith("screen-recording") else FPS
    detections = [detect_frames(window) for window in windows_of(frames, fps)]
    z = [d.z_score for d in detections]
    return TransformResult(
        name,
        len(detections),
        sum(d.payload == PAYLOAD for d in detections),
        sum(d.present for d in detections),
        float(np.min(z)),
        float(np.median(z)),
    )


def false_positive_windows(windows: list[Frames]) -> tuple[int, int, float]:
    """(windows detected, windows, highest z) over frames that carry no mark."""
    detections: list[Detection] = [detect_frames(window) for window in windows]
    return (
        sum(d.present for d in detections),
        len(detections),
        max((d.z_score for d in detections), default=0.0),
    )


def video_windows(path: Path) -> list[Frames]:
    return list(window for window in read_windows(path) if len(window) > 1)


@dataclass(frozen=True)
class EmbedCost:
    first_ms: float  # the first frame (wall clock)
    p50_ms: float  # of the other frames, wall clock: one in STRIP_FRAMES also remakes a strip
    p99_ms: float
    max_ms: float
    mean_ms: float
    cpu_p99_ms: float  # the same frames in this thread's CPU time: what preemption does not add
    cpu_max_ms: float


def embed_cost_ms(frames: Frames, embedder: WatermarkEmbedder) -> tuple[Frames, EmbedCost]:
    """(marked frames, the cost per frame): percentiles, because no frame may take long (the
    worker thread has 25 ms for everything). Wall clock and this thread's CPU time: this machine
    is shared, and a frame preempted in the middle of its add takes milliseconds of wall clock for
    microseconds of work; the CPU time says what the marking itself costs."""
    marked, costs_ms, cpu_ms = [], [], []
    for frame in frames:
        start, start_cpu = time.perf_counter(), time.thread_time()
        marked.append(embedder.embed(frame))
        costs_ms.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.thread_time() - start_cpu) * 1000)
    rest, rest_cpu = np.array(costs_ms[1:]), np.array(cpu_ms[1:])
    return marked, EmbedCost(
        costs_ms[0],
        float(np.median(rest)),
        float(np.percentile(rest, 99)),
        float(rest.max()),
        float(rest.mean()),
        float(np.percentile(rest_cpu, 99)),
        float(rest_cpu.max()),
    )


def psnr_db(marked: Frames, reference: Frames) -> float:
    error = np.mean(
        [(m.astype(np.float32) - r) ** 2 for m, r in zip(marked, reference, strict=True)]
    )
    return float(10 * np.log10(255**2 / max(float(error), 1e-12)))


def report(
    renders: dict[str, Frames],
    real_videos: list[Path],
    transforms: list[str],
    print_line: Callable[[str], None] = print,
) -> None:
    print_line(
        f"payload {PAYLOAD} (server {PAYLOAD.server_id}, stream {PAYLOAD.stream_id}); "
        f"1 s windows of {FPS} frames; a window is detected at false-positive rate "
        f"<= {DETECT_FPR:g}; 'found' = detected with the right payload"
    )
    marked_all: dict[str, Frames] = {}
    for name, frames in renders.items():
        marked, cost = embed_cost_ms(frames, WatermarkEmbedder(PAYLOAD))
        marked_all[name] = marked
        print_line(
            f"{name}: {len(frames)} frames, embed ms/frame p50 {cost.p50_ms:.3f} p99 "
            f"{cost.p99_ms:.3f} max {cost.max_ms:.3f} mean {cost.mean_ms:.3f} (CPU time: p99 "
            f"{cost.cpu_p99_ms:.3f} max {cost.cpu_max_ms:.3f}; a strip of the map remade every "
            f"{STRIP_FRAMES} frames; the first frame: {cost.first_ms:.2f}), "
            f"PSNR {psnr_db(marked, frames):.2f} dB"
        )
    print_line(
        f"{'transform':<30}{'found':>10}{'rate':>8}{'present':>9}{'min z':>8}{'median z':>10}"
        f"{'ms/window (transform+detect)':>30}"
    )
    for transform in transforms:
        start = time.perf_counter()
        results = [measure_transform(transform, marked) for marked in marked_all.values()]
        windows = sum(r.windows for r in results)
        detect_ms = (time.perf_counter() - start) * 1000 / max(windows, 1)
        found = sum(r.found for r in results)
        print_line(
            f"{transform:<30}{f'{found}/{windows}':>10}{100 * found / max(windows, 1):>7.1f}%"
            f"{sum(r.present for r in results):>9}{min(r.min_z for r in results):>8.1f}"
            f"{float(np.median([r.median_z for r in results])):>10.1f}{detect_ms:>30.0f}"
        )
    _false_positives(renders, real_videos, print_line)


def _false_positives(
    renders: dict[str, Frames], real_videos: list[Path], print_line: Callable[[str], None]
) -> None:
    unmarked = [w for frames in renders.values() for w in windows_of(frames, FPS)]
    encoded = [
        w for frames in renders.values() for w in windows_of(TRANSFORMS["h264-300k"](frames), FPS)
    ]
    real: list[Frames] = [w for path in real_videos for w in video_windows(path)]
    for label, windows in (
        ("unmarked renders", unmarked),
        ("unmarked renders, h264-300k", encoded),
        (f"real videos ({len(real_videos)} files)", real),
    ):
        detected, total, top = false_positive_windows(windows)
        print_line(f"false positives, {label}: {detected} of {total} windows (highest z {top:.1f})")
