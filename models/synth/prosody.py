"""Speech prosody (F0, energy) -> head motion at 25 Hz.

Talkers nod on stressed syllables, turn at phrase starts, raise the head with pitch, and drift
slowly all the time. This module measures pitch and loudness from the audio itself (so the motion
model can learn the same link from audio) and builds pose curves from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import motion_space

AUDIO_RATE_HZ = 16_000
_HOP = AUDIO_RATE_HZ // motion_space.MOTION_RATE_HZ  # 640 samples per motion frame
_WINDOW = 1024
_MIN_F0_HZ = 70.0
_MAX_F0_HZ = 400.0
_DEG = np.pi / 180.0


@dataclass(frozen=True)
class Prosody:
    loudness_db: np.ndarray  # (T,) frame RMS in dB relative to the clip's loudest frame (<= 0)
    f0_hz: np.ndarray  # (T,) fundamental frequency; 0 where unvoiced
    speech: np.ndarray  # (T,) bool: energy-based voice activity


def _frames(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """(T, _WINDOW) analysis windows centred on each motion frame."""
    pad = _WINDOW
    padded = np.pad(audio.astype(np.float32), (pad, pad + num_frames * _HOP))
    starts = pad + np.arange(num_frames) * _HOP + _HOP // 2 - _WINDOW // 2
    index = starts[:, None] + np.arange(_WINDOW)[None, :]
    return padded[index]


def _f0(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation pitch per window: (f0_hz, clarity in [0, 1])."""
    tapered = (windows - windows.mean(axis=1, keepdims=True)) * np.hanning(_WINDOW)
    spectrum = np.fft.rfft(tapered, n=2 * _WINDOW, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :_WINDOW]  # (T, W)
    low, high = int(AUDIO_RATE_HZ / _MAX_F0_HZ), int(AUDIO_RATE_HZ / _MIN_F0_HZ)
    # Normalise by the window's own overlap so long lags are not penalised.
    overlap = np.correlate(np.hanning(_WINDOW), np.hanning(_WINDOW), "full")[_WINDOW - 1 :]
    normalised = autocorr[:, low:high] / (autocorr[:, :1] + 1e-9) / overlap[low:high] * overlap[0]
    lag = np.argmax(normalised, axis=1) + low
    clarity = np.clip(normalised.max(axis=1), 0.0, 1.0)
    return AUDIO_RATE_HZ / lag, clarity


def analyse(audio_16k: np.ndarray, num_frames: int) -> Prosody:
    """Loudness, F0 and voice activity at 25 Hz from float audio in [-1, 1]."""
    windows = _frames(audio_16k, num_frames)
    rms = np.sqrt(np.mean(windows**2, axis=1) + 1e-12)
    loudness_db = 20 * np.log10(rms / (rms.max() + 1e-12) + 1e-9)
    f0_hz, clarity = _f0(windows)
    # Speech: 10 dB above the quiet floor, never stricter than -15 dB below the peak.
    threshold_db = min(max(-35.0, float(np.percentile(loudness_db, 10)) + 10.0), -15.0)
    speech = loudness_db > threshold_db
    voiced = speech & (clarity > 0.5)
    return Prosody(loudness_db.astype(np.float32), np.where(voiced, f0_hz, 0.0), speech)


def smooth(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge padding."""
    radius = max(1, int(3 * sigma_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, [(radius, radius)] + [(0, 0)] * (values.ndim - 1), mode="edge")
    if values.ndim == 1:
        return np.convolve(padded, kernel, mode="valid")
    return np.stack([np.convolve(padded[:, k], kernel, "valid") for k in range(values.shape[1])], 1)


def pink_drift(
    num_frames: int, rng: np.random.Generator, std: float, fast_weight: float = 0.6
) -> np.ndarray:
    """1/f-like noise: a sum of smoothed white noises at 0.16, 0.8 and 3 s time scales.

    `fast_weight` sets the share of the 0.16 s component, which dominates the per-frame change.
    """
    total = np.zeros(num_frames)
    for sigma_s, weight in ((0.16, fast_weight), (0.8, 0.9), (3.0, 1.0)):
        sigma_frames = sigma_s * motion_space.MOTION_RATE_HZ
        noise = smooth(rng.standard_normal(num_frames + 1), sigma_frames)[:num_frames]
        total += weight * noise / (noise.std() + 1e-9)
    return std * total / (total.std() + 1e-9)


def accents(prosody: Prosody, min_gap_frames: int = 6) -> np.ndarray:
    """(T,) accent strengths in [0, 1] at loudness peaks of voiced speech, 0 elsewhere."""
    envelope = smooth(np.maximum(prosody.loudness_db + 30.0, 0.0), 1.5)
    if not prosody.speech.any():
        return np.zeros(len(envelope))
    is_peak = (envelope >= np.roll(envelope, 1)) & (envelope > np.roll(envelope, -1))
    is_peak &= prosody.speech & (envelope > np.median(envelope[prosody.speech]))
    out = np.zeros(len(envelope))
    last = -min_gap_frames
    for t in np.flatnonzero(is_peak):
        if t - last >= min_gap_frames:
            out[t] = envelope[t] / (envelope.max() + 1e-9)
            last = t
    return out


def phrase_starts(speech: np.ndarray, min_pause_frames: int = 6) -> np.ndarray:
    """Frame indices where speech resumes after at least `min_pause_frames` of silence."""
    starts = []
    silent_run = min_pause_frames
    for t, active in enumerate(speech):
        if active and silent_run >= min_pause_frames:
            starts.append(t)
        silent_run = 0 if active else silent_run + 1
    return np.asarray(starts, dtype=np.int64)


def _nod_kernel(rng: np.random.Generator) -> np.ndarray:
    """A downward nod and return over ~0.3-0.5 s."""
    length = int(rng.integers(7, 13))
    phase = np.linspace(0, np.pi, length)
    return np.sin(phase) ** 2


# Head drift per axis (std, degrees) and the share of its fast (0.16 s) component. Tuned so the
# corpus's mean |per-frame change| (yaw/pitch/roll 0.54/0.46/0.30 degrees at 25 Hz) sits
# near a tracked real talker's (HDTF: 0.85/0.64/0.38, which includes tracking jitter); the
# first corpus (4/3/2 degrees, weight 0.6) gave 0.27/0.32/0.11 and a visibly stiff head.
DRIFT_DEG = {"yaw": 6.0, "pitch": 3.5, "roll": 3.5}
FAST_WEIGHT = 1.2
NOD_DEG = (2.0, 6.0)  # nod amplitude range on a full-strength accent
TURN_STD_DEG = 7.0  # yaw target change at a phrase start


@dataclass(frozen=True)
class HeadStyle:
    """Per-clip head-motion character (emotion and speaker dependent)."""

    energy: float = 1.0  # scales nods, turns and drift
    pitch_offset_rad: float = 0.0  # sad talkers look down
    scale_mean: float = 0.0  # head distance (log size)


def head_pose(prosody: Prosody, rng: np.random.Generator, style: HeadStyle) -> np.ndarray:
    """(T, 6) pose fields (yaw, pitch, roll, tx, ty, scale) following prosody."""
    num_frames = len(prosody.loudness_db)
    activity = smooth(prosody.speech.astype(np.float64), 5.0)
    gain = style.energy * (0.5 + 0.5 * activity)
    yaw = pink_drift(num_frames, rng, DRIFT_DEG["yaw"] * _DEG, FAST_WEIGHT) * gain
    pitch = pink_drift(num_frames, rng, DRIFT_DEG["pitch"] * _DEG, FAST_WEIGHT) * gain
    pitch += style.pitch_offset_rad
    roll = pink_drift(num_frames, rng, DRIFT_DEG["roll"] * _DEG, FAST_WEIGHT) * gain + 0.15 * yaw
    pitch += _nods(prosody, rng) * style.energy
    pitch -= _f0_lift(prosody) * style.energy
    yaw += _turns(prosody, rng, num_frames) * style.energy
    yaw, pitch, roll = (smooth(x, 1.0) for x in (yaw, pitch, roll))
    tx = 0.06 * yaw + pink_drift(num_frames, rng, 0.004)
    ty = 0.05 * pitch + pink_drift(num_frames, rng, 0.003)
    scale = style.scale_mean + pink_drift(num_frames, rng, 0.01)
    return np.stack([yaw, pitch, roll, tx, ty, scale], axis=1).astype(np.float32)


def _nods(prosody: Prosody, rng: np.random.Generator) -> np.ndarray:
    strengths = accents(prosody)
    out = np.zeros(len(strengths) + 16)
    for t in np.flatnonzero(strengths):
        kernel = _nod_kernel(rng)
        amplitude = strengths[t] * rng.uniform(*NOD_DEG) * _DEG
        start = max(0, t - len(kernel) // 3)
        out[start : start + len(kernel)] += amplitude * kernel
    return out[: len(strengths)]


def _f0_lift(prosody: Prosody) -> np.ndarray:
    """Higher pitch lifts the head a little: ~0.25 degree per semitone above the clip median."""
    voiced = prosody.f0_hz > 0
    if voiced.sum() < 5:
        return np.zeros(len(prosody.f0_hz))
    semitones = 12 * np.log2(
        np.where(voiced, prosody.f0_hz, 1.0) / np.median(prosody.f0_hz[voiced])
    )
    lift = np.where(voiced, np.clip(semitones, -6, 6), 0.0) * 0.25 * _DEG
    return smooth(lift, 3.0)


def _turns(prosody: Prosody, rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """Piecewise-constant yaw targets that change at phrase starts, eased over ~0.5 s."""
    target = np.zeros(num_frames)
    level = 0.0
    for start in phrase_starts(prosody.speech):
        level = 0.3 * level + rng.normal(0.0, TURN_STD_DEG) * _DEG
        target[start:] = level
    return smooth(target, 3.0)
