"""Audio for synthetic clips: 22050 -> 16000 Hz resampling, noise, reverb and gain.

The motion targets are computed from the clean speech; augmentation only changes what the model
hears, so it learns to ignore noise and room sound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.synth.espeak import ESPEAK_RATE_HZ

AUDIO_RATE_HZ = 16_000


def resample_to_16k(samples_22k: np.ndarray) -> np.ndarray:
    """int16 22050 Hz -> float32 16 kHz in [-1, 1] with soxr (a library resampler, per DESIGN)."""
    import soxr  # lazy: only the data generator needs it

    audio = samples_22k.astype(np.float32) / 32768.0
    return np.asarray(soxr.resample(audio, ESPEAK_RATE_HZ, AUDIO_RATE_HZ), dtype=np.float32)


def fft_convolve(signal: np.ndarray, impulse: np.ndarray) -> np.ndarray:
    """Linear convolution via FFT, truncated to len(signal)."""
    size = 1 << (len(signal) + len(impulse) - 2).bit_length()
    spectrum = np.fft.rfft(signal, size) * np.fft.rfft(impulse, size)
    return np.fft.irfft(spectrum, size)[: len(signal)]


def pink_noise(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.maximum(np.fft.rfftfreq(num_samples), 1.0 / num_samples)
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n=num_samples)
    return (noise / (noise.std() + 1e-9)).astype(np.float32)


def _babble(num_samples: int, pool: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(num_samples, np.float32)
    for _ in range(int(rng.integers(3, 7))):
        source = pool[int(rng.integers(len(pool)))]
        shift = int(rng.integers(len(source)))
        out += np.resize(np.roll(source, shift), num_samples)
    return out / (out.std() + 1e-9)


def add_noise(
    audio: np.ndarray, rng: np.random.Generator, snr_db: float, babble_pool: list[np.ndarray]
) -> np.ndarray:
    """Mix white, pink or babble noise at `snr_db` relative to the speech's active level."""
    kind = rng.choice(["white", "pink", "babble"] if babble_pool else ["white", "pink"])
    if kind == "white":
        noise = rng.standard_normal(len(audio)).astype(np.float32)
    elif kind == "pink":
        noise = pink_noise(len(audio), rng)
    else:
        noise = _babble(len(audio), babble_pool, rng)
    active = np.abs(audio) > 0.01 * np.abs(audio).max()
    speech_rms = float(np.sqrt(np.mean(audio[active] ** 2))) if active.any() else 0.1
    noise_rms = speech_rms / 10 ** (snr_db / 20)
    return audio + noise_rms * noise


def reverb(audio: np.ndarray, rng: np.random.Generator, rt60_s: float) -> np.ndarray:
    """Convolve with an exponentially decaying noise impulse response; keep the dry path."""
    length = int(rt60_s * AUDIO_RATE_HZ)
    time_s = np.arange(length) / AUDIO_RATE_HZ
    impulse = rng.standard_normal(length) * np.exp(-6.9 * time_s / rt60_s)  # -60 dB at rt60
    impulse[0] = 0.0
    impulse *= rng.uniform(0.2, 0.6) / (np.sqrt(np.sum(impulse**2)) + 1e-9)
    impulse[0] = 1.0
    wet = fft_convolve(audio, impulse)
    return np.asarray(wet, dtype=np.float32)


def echo(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[list[float]]]:
    """Add 1-3 discrete delayed copies (a public-address system or a hall): (audio, [[s, gain]])."""
    out = audio.astype(np.float32).copy()
    taps = []
    for _ in range(int(rng.integers(1, 4))):
        delay_s, gain = float(rng.uniform(0.06, 0.45)), float(rng.uniform(0.15, 0.5))
        shift = int(delay_s * AUDIO_RATE_HZ)
        out[shift:] += gain * audio[: len(audio) - shift]
        taps.append([round(delay_s, 3), round(gain, 3)])
    return out, taps


def augment(
    audio: np.ndarray, rng: np.random.Generator, babble_pool: list[np.ndarray]
) -> tuple[np.ndarray, dict[str, Any]]:
    """Random reverb (40 %), echo (20 %), noise (85 %, SNR 3-40 dB), gain (30 % quiet, with
    hiss) -> (audio, record).

    Noise down to 3 dB SNR and echo tails in the pauses teach the model that a noisy or echoing
    pause is still a pause (the first corpus, 10-40 dB and no echo, left the mouth half open in
    the pauses of a noisy outdoor recording).
    """
    record: dict[str, Any] = {}
    if rng.random() < 0.4:
        record["rt60_s"] = round(float(rng.uniform(0.1, 0.9)), 3)
        audio = reverb(audio, rng, record["rt60_s"])
    if rng.random() < 0.2:
        audio, record["echo"] = echo(audio, rng)
    if rng.random() < 0.85:
        record["snr_db"] = round(float(rng.uniform(3.0, 40.0)), 1)
        audio = add_noise(audio, rng, record["snr_db"], babble_pool)
    # 30 % quiet recordings (peak -45 to -20 dBFS) with a microphone's own hiss under them: the
    # front end's loudness normalisation lifts them, hiss and all, to the level of the rest.
    quiet = rng.random() < 0.3
    peak_dbfs = float(rng.uniform(-45.0, -20.0) if quiet else rng.uniform(-20.0, -1.0))
    record["peak_dbfs"] = round(peak_dbfs, 1)
    audio = audio * (10 ** (peak_dbfs / 20) / (np.abs(audio).max() + 1e-9))
    if quiet:
        record["hiss_dbfs"] = round(float(rng.uniform(-80.0, -62.0)), 1)
        audio = audio + 10 ** (record["hiss_dbfs"] / 20) * rng.standard_normal(len(audio))
    return audio.astype(np.float32), record


def to_int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
