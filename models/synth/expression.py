"""Blinks, gaze shifts and emotion offsets for synthetic clips (25 Hz)."""

from __future__ import annotations

import numpy as np

from models import motion_space

_GRID_PER_FRAME = 8  # blink shapes are drawn at 200 Hz and averaged into 25 Hz frames
_MIN_BLINK_GAP_S = 0.5

# Expression offsets at intensity 1, per emotion.
EMOTION_OFFSETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {
        "mouthSmileLeft": 0.65, "mouthSmileRight": 0.65, "cheekSquintLeft": 0.45,
        "cheekSquintRight": 0.45, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1,
    },
    "sad": {
        "mouthFrownLeft": 0.55, "mouthFrownRight": 0.55, "browInnerUp": 0.6,
        "mouthPressLeft": 0.1, "mouthPressRight": 0.1,
    },
    "angry": {
        "browDownLeft": 0.7, "browDownRight": 0.7, "mouthPressLeft": 0.35,
        "mouthPressRight": 0.35, "cheekSquintLeft": 0.15, "cheekSquintRight": 0.15,
    },
    "surprised": {
        "browInnerUp": 0.65, "browOuterUpLeft": 0.65, "browOuterUpRight": 0.65,
        "eyeWideLeft": 0.55, "eyeWideRight": 0.55, "jawOpen": 0.08,
    },
}  # fmt: skip


def blink_track(num_frames: int, rng: np.random.Generator, rate_per_min: float) -> np.ndarray:
    """(T,) eyelid closure in [0, 1]: Poisson blinks, fast close, short hold, slower open."""
    rate_hz = motion_space.MOTION_RATE_HZ
    grid_hz = rate_hz * _GRID_PER_FRAME
    curve = np.zeros(num_frames * _GRID_PER_FRAME)
    time_s = rng.exponential(60.0 / rate_per_min) * rng.uniform(0.2, 1.0)
    while time_s < num_frames / rate_hz:
        shape = _blink_shape(rng, grid_hz)
        start = int(time_s * grid_hz)
        end = min(len(curve), start + len(shape))
        curve[start:end] = np.maximum(curve[start:end], shape[: end - start])
        gap_s = rng.exponential(60.0 / rate_per_min)
        time_s += len(shape) / grid_hz + max(gap_s, _MIN_BLINK_GAP_S)
    frames: np.ndarray = curve.reshape(num_frames, _GRID_PER_FRAME).max(axis=1)
    return frames


def _blink_shape(rng: np.random.Generator, grid_hz: int) -> np.ndarray:
    close_s, hold_s, open_s = (
        rng.uniform(0.05, 0.08),
        rng.uniform(0.02, 0.05),
        rng.uniform(0.1, 0.15),
    )
    close = np.sin(0.5 * np.pi * np.linspace(0, 1, max(2, int(close_s * grid_hz)))) ** 2
    hold = np.ones(int(hold_s * grid_hz))
    opening = np.cos(0.5 * np.pi * np.linspace(0, 1, max(2, int(open_s * grid_hz)))) ** 2
    depth = rng.uniform(0.85, 1.0)
    return depth * np.concatenate([close, hold, opening])


def gaze_track(num_frames: int, rng: np.random.Generator, mean_xy: np.ndarray) -> np.ndarray:
    """(T, 2) eyeLookX/Y: fixations around `mean_xy` with saccades between them."""
    out = np.zeros((num_frames, 2))
    frame = 0
    current = np.asarray(mean_xy, dtype=np.float64)
    while frame < num_frames:
        fixation_frames = max(3, int(rng.exponential(1.6) * motion_space.MOTION_RATE_HZ))
        spread = 0.35 if rng.random() < 0.1 else 0.1  # occasional look-away
        target = mean_xy + rng.normal(0.0, spread, 2) * np.array([1.0, 0.6])
        out[frame : frame + 1] = 0.5 * (current + target)  # a saccade takes ~one frame
        out[frame + 1 : frame + fixation_frames] = target
        current = target
        frame += fixation_frames
    out += rng.normal(0.0, 0.005, out.shape)  # fixational tremor
    return np.clip(out, -1.0, 1.0)


def emotion_offsets(
    emotion: str, intensity: float, num_frames: int, rng: np.random.Generator
) -> np.ndarray:
    """(T, MOTION_DIM) additive expression offsets, slowly breathing between 80 and 100 %."""
    static = np.zeros(motion_space.MOTION_DIM, dtype=np.float32)
    for name, value in EMOTION_OFFSETS[emotion].items():
        static[motion_space.INDEX[name]] = value * intensity
    phase = rng.uniform(0, 2 * np.pi)
    period_frames = rng.uniform(4.0, 10.0) * motion_space.MOTION_RATE_HZ
    breathing = 0.9 + 0.1 * np.sin(phase + 2 * np.pi * np.arange(num_frames) / period_frames)
    return (breathing[:, None] * static[None, :]).astype(np.float32)


def brow_raises(accent_strengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T,) brow raise following the strongest pitch accents (some talkers do, some less)."""
    talker_gain = rng.uniform(0.0, 0.35)
    strong = np.where(accent_strengths > 0.7, accent_strengths, 0.0)
    kernel = np.sin(np.linspace(0, np.pi, 10)) ** 2
    return talker_gain * np.convolve(strong, kernel, mode="same")
