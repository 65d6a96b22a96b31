"""Talking-face video -> motion-model training shards (`gioconda data extract`).

Each video is decoded with PyAV (any frame rate; audio resampled to 16 kHz mono by PyAV), tracked
with MediaPipe's face mesh in video mode, and every frame's 478 landmarks are mapped into one fixed
512 px crop (chosen from the first frames, as avatar preparation chooses it for a portrait), where
`models.face_rig.estimate_motion` reads pose and expression. Motion is then resampled to 25 Hz,
lightly smoothed, and cut into clips.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.errors import EngineError
from models import motion_space
from models.motion_data import AUDIO_RATE_HZ, SAMPLES_PER_MOTION_FRAME, Shard, save_shard

log = logging.getLogger(__name__)

Float32Array = NDArray[np.float32]
CROP_FROM_FIRST_FRAMES = 10  # the crop square comes from the median of these frames' landmarks
MIN_TRACKED_FRACTION = 0.5  # a clip where the face is lost more often than this is dropped
SMOOTH_SIGMA_FRAMES = 0.7
_UNSMOOTHED = ("eyeBlinkLeft", "eyeBlinkRight")  # blinks last ~5 frames: keep them sharp


class VideoExtractError(EngineError):
    """A video that cannot be decoded or shows no trackable face."""


@dataclass(frozen=True)
class VideoTrack:
    """One video's speech and per-frame motion at 25 Hz."""

    audio_16k: Float32Array  # (S,) mono in [-1, 1]
    motion: Float32Array  # (T, MOTION_DIM), T = ceil(S / 640)
    tracked: NDArray[np.bool_]  # (T,) whether a face was tracked near that frame
    source_fps: float


def _open_media(path: Path) -> Any:
    """PyAV container for reading; a file that is missing or not a media file -> clear error."""
    import av

    if not path.is_file():
        raise VideoExtractError(f"{path}: no such file", reason="not_found")
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoExtractError(
            f"{path}: not an audio or video file that can be decoded ({exc.strerror})",
            reason="bad_media",
        ) from exc


def decode_audio_16k(path: Path) -> Float32Array:
    """The first audio stream as 16 kHz mono float32 (PyAV's resampler)."""
    import av

    with _open_media(path) as container:
        if not container.streams.audio:
            raise VideoExtractError(f"{path}: no audio stream")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=AUDIO_RATE_HZ)
        chunks: list[NDArray[np.int16]] = []
        for frame in container.decode(audio=0):
            chunks += [np.asarray(out.to_ndarray(), np.int16).reshape(-1)
                       for out in resampler.resample(frame)]  # fmt: skip
        chunks += [np.asarray(out.to_ndarray(), np.int16).reshape(-1)
                   for out in resampler.resample(None)]  # fmt: skip
    if not chunks:
        raise VideoExtractError(f"{path}: the audio stream is empty")
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)


def decode_frames(path: Path) -> Iterator[tuple[float, NDArray[np.uint8]]]:
    """(time_s, RGB frame) for every video frame, in presentation order."""
    with _open_media(path) as container:
        if not container.streams.video:
            raise VideoExtractError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is not None:
                yield float(frame.time), np.asarray(frame.to_ndarray(format="rgb24"), np.uint8)


class _VideoMesh:
    """MediaPipe face mesh in tracking (video) mode: landmarks follow the face between frames."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            refine_landmarks=True,
            max_num_faces=1,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )

    def landmarks(self, rgb: NDArray[np.uint8]) -> Float32Array | None:
        """(478, 3): x, y in pixels, z = MediaPipe z * width; None where no face is found."""
        height, width = rgb.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        points = [(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark]
        return np.array(points, np.float32) * np.array([width, height, width], np.float32)

    def close(self) -> None:
        self._mesh.close()


def track_landmarks(path: Path) -> tuple[list[float], list[Float32Array | None]]:
    """Per-frame times and landmarks (None where the face was lost)."""
    times_s: list[float] = []
    landmarks: list[Float32Array | None] = []
    mesh = _VideoMesh()
    try:
        for time_s, rgb in decode_frames(path):
            times_s.append(time_s)
            landmarks.append(mesh.landmarks(rgb))
    finally:
        mesh.close()
    if not any(lm is not None for lm in landmarks):
        raise VideoExtractError(f"{path}: no face found in any frame")
    return times_s, landmarks


def fixed_crop_transform(landmarks: list[Float32Array | None]) -> NDArray[np.float64]:
    """The (2, 3) source->512 px crop affine, from the median of the first tracked frames."""
    from engine.avatar.image_io import square_transform
    from engine.avatar.prepare import crop_square

    first = [lm for lm in landmarks if lm is not None][:CROP_FROM_FIRST_FRAMES]
    square = crop_square(np.median(np.stack(first), axis=0).astype(np.float32))
    return square_transform(square.centre_px, square.side_px, square.angle_rad, 512)


def frame_motion(landmarks: list[Float32Array | None], crop: NDArray[np.float64]) -> Float32Array:
    """(N, MOTION_DIM) motion per video frame; NaN rows where the face was lost."""
    from engine.avatar.image_io import apply_transform
    from models.face_rig import estimate_motion

    out = np.full((len(landmarks), motion_space.MOTION_DIM), np.nan, np.float32)
    for i, points in enumerate(landmarks):
        if points is not None:
            out[i] = estimate_motion(apply_transform(crop, points))
    return out


def resample_motion(
    times_s: NDArray[np.float64], motion: Float32Array, num_frames: int
) -> tuple[Float32Array, NDArray[np.bool_]]:
    """Linear interpolation of per-video-frame motion to 25 Hz frame centres; lost frames are
    bridged from their tracked neighbours and reported in the mask."""
    valid = ~np.isnan(motion).any(axis=1)
    centres_s = (np.arange(num_frames) + 0.5) / motion_space.MOTION_RATE_HZ
    known_t, known = times_s[valid], motion[valid]
    out = np.stack(
        [np.interp(centres_s, known_t, known[:, k]) for k in range(known.shape[1])], axis=1
    )
    nearest = np.searchsorted(times_s, centres_s).clip(0, len(times_s) - 1)
    return out.astype(np.float32), valid[nearest]


def smooth_motion(motion: Float32Array, sigma_frames: float = SMOOTH_SIGMA_FRAMES) -> Float32Array:
    """Gaussian smoothing over time of every field except blinks (landmark jitter removal)."""
    radius = max(1, math.ceil(3 * sigma_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(motion, [(radius, radius), (0, 0)], mode="edge")
    out = motion.copy()
    keep = {motion_space.INDEX[name] for name in _UNSMOOTHED}
    for k in range(motion.shape[1]):
        if k not in keep:
            out[:, k] = np.convolve(padded[:, k], kernel, mode="valid")
    return motion_space.clip(out)


def track_video(path: Path) -> VideoTrack:
    """Decode, track and fit one video: audio and 25 Hz motion over their common span."""
    audio = decode_audio_16k(path)
    times_s, landmarks = track_landmarks(path)
    per_frame = frame_motion(landmarks, fixed_crop_transform(landmarks))
    times = np.asarray(times_s, np.float64)
    frame_step_s = float(np.median(np.diff(times))) if len(times) > 1 else 0.04
    duration_s = min(len(audio) / AUDIO_RATE_HZ, times[-1] + frame_step_s)
    audio = audio[: int(duration_s * AUDIO_RATE_HZ)]
    num_frames = math.ceil(len(audio) / SAMPLES_PER_MOTION_FRAME)
    motion, tracked = resample_motion(times, per_frame, num_frames)
    return VideoTrack(audio, smooth_motion(motion), tracked, 1.0 / frame_step_s)


def split_clips(track: VideoTrack, max_clip_s: float) -> list[tuple[int, int]]:
    """(start, stop) motion-frame ranges of about equal clips no longer than max_clip_s."""
    total = len(track.motion)
    per_clip = max(1, int(max_clip_s * motion_space.MOTION_RATE_HZ))
    count = max(1, math.ceil(total / per_clip))
    bounds = np.linspace(0, total, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def clip_shard(track: VideoTrack, start: int, stop: int, meta: dict[str, Any]) -> Shard:
    audio = track.audio_16k[start * SAMPLES_PER_MOTION_FRAME : stop * SAMPLES_PER_MOTION_FRAME]
    audio_int16 = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    frames = math.ceil(len(audio_int16) / SAMPLES_PER_MOTION_FRAME)
    return Shard(audio_16k=audio_int16, motion=track.motion[start : start + frames], meta=meta)


def measured_fields(motion: Float32Array) -> list[str]:
    """Fields the landmark fit actually moved; the rest (brows, cheeks, some lip shapes) are held
    at neutral by `estimate_motion` and carry no information for training."""
    moved = np.abs(motion - motion_space.NEUTRAL).max(axis=0) > 1e-6
    return [name for name, flag in zip(motion_space.FIELD_NAMES, moved, strict=True) if flag]


def extract_video(path: Path, out_dir: Path, max_clip_s: float = 20.0) -> list[Path]:
    """Write `<stem>_<k>.npz` shards for one video; clips where tracking failed are skipped."""
    track = track_video(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for k, (start, stop) in enumerate(split_clips(track, max_clip_s)):
        tracked_fraction = float(track.tracked[start:stop].mean())
        if tracked_fraction < MIN_TRACKED_FRACTION:
            log.warning("%s clip %d: face tracked in %.0f%% of frames, skipped",
                        path, k, 100 * tracked_fraction)  # fmt: skip
            continue
        meta = {
            "source": "video",
            "video": path.name,
            "clip": k,
            "start_s": start / motion_space.MOTION_RATE_HZ,
            "source_fps": round(track.source_fps, 3),
            "tracked_fraction": round(tracked_fraction, 4),
            "emotion_known": False,
            "measured_fields": measured_fields(track.motion[start:stop]),
        }
        shard_path = out_dir / f"{path.stem}_{k:03d}.npz"
        save_shard(shard_path, clip_shard(track, start, stop, meta))
        written.append(shard_path)
    return written


def extract_videos(paths: list[Path], out_dir: Path, max_clip_s: float = 20.0) -> list[Path]:
    """Shards for every video; a video that fails is logged and skipped."""
    written: list[Path] = []
    for path in paths:
        try:
            written += extract_video(path, out_dir, max_clip_s)
        except VideoExtractError as exc:
            log.error("skipped: %s", exc)
    return written
