"""Audio entering a stream: validated, downmixed and resampled to the engine's 16 kHz mono.

Chunks of any size, any supported rate and channel count are accepted; resampling is soxr's
streaming resampler (one per stream, restarted when the input rate changes), never by hand.
Bad chunks raise AudioError with a reason code and leave the stream's state untouched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr
from numpy.typing import NDArray

from engine.errors import AudioError

ENGINE_RATE_HZ = 16_000
SUPPORTED_RATES_HZ = (
    8_000,
    11_025,
    12_000,
    16_000,
    22_050,
    24_000,
    32_000,
    44_100,
    48_000,
    88_200,
    96_000,
)
MAX_CHUNK_S = 10.0  # per push_audio call; longer audio is pushed in several chunks
MAX_CHANNELS = 8


def validate_chunk(
    samples: NDArray[np.generic], sample_rate_hz: int, channels: int
) -> NDArray[np.float32]:
    """(S * channels,) int16 or float32 interleaved -> (S,) float32 mono in [-1, 1]."""
    if sample_rate_hz not in SUPPORTED_RATES_HZ:
        raise AudioError(
            f"unsupported sample rate {sample_rate_hz} Hz; supported: {SUPPORTED_RATES_HZ}",
            reason="unsupported_rate",
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"channels must be 1..{MAX_CHANNELS}, got {channels}", "bad_channels")
    array = np.asarray(samples)
    if array.dtype not in (np.int16, np.float32):
        raise AudioError(f"audio must be int16 or float32, got {array.dtype}", "bad_dtype")
    if array.ndim != 1 or array.size % channels:
        raise AudioError(
            f"audio must be 1-D interleaved with a multiple of {channels} samples, "
            f"got shape {array.shape}",
            "bad_shape",
        )
    frames = array.size // channels
    if frames > MAX_CHUNK_S * sample_rate_hz:
        raise AudioError(
            f"chunk of {frames / sample_rate_hz:.1f} s exceeds the {MAX_CHUNK_S:.0f} s cap; "
            "push long audio in several chunks",
            "chunk_too_long",
        )
    return _to_mono_float(array, channels)


def _to_mono_float(array: NDArray[np.generic], channels: int) -> NDArray[np.float32]:
    if array.dtype == np.int16:
        floats = array.astype(np.float32) / 32768.0
    else:
        floats = array.astype(np.float32, copy=False)
        if not np.isfinite(floats).all():
            raise AudioError("audio contains NaN or inf", "not_finite")
    mono = floats.reshape(-1, channels).mean(axis=1) if channels > 1 else floats
    return np.clip(mono, -1.0, 1.0).astype(np.float32)


class AudioInput:
    """Per-stream resampling state: chunks at any rate in, 16 kHz float32 out."""

    def __init__(self) -> None:
        self._rate_hz = ENGINE_RATE_HZ
        self._resampler: soxr.ResampleStream | None = None

    def push(
        self, samples: NDArray[np.generic], sample_rate_hz: int, channels: int = 1
    ) -> NDArray[np.float32]:
        """One validated chunk -> (n,) float32 at 16 kHz (n may lag by the resampler's delay)."""
        mono = validate_chunk(samples, sample_rate_hz, channels)
        out = []
        if sample_rate_hz != self._rate_hz:
            out.append(self.flush())
            self._rate_hz = sample_rate_hz
            if sample_rate_hz != ENGINE_RATE_HZ:
                self._resampler = soxr.ResampleStream(
                    sample_rate_hz, ENGINE_RATE_HZ, 1, dtype="float32", quality="HQ"
                )
        if self._resampler is None:
            out.append(mono)
        else:
            out.append(self._resampler.resample_chunk(mono))
        return np.concatenate(out).astype(np.float32, copy=False)

    def flush(self) -> NDArray[np.float32]:
        """End of a segment: the resampler's remaining tail; the next chunk starts afresh."""
        resampler, self._resampler = self._resampler, None
        self._rate_hz = ENGINE_RATE_HZ
        if resampler is None:
            return np.zeros(0, dtype=np.float32)
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return np.asarray(tail, dtype=np.float32)


def read_audio_file(path: Path) -> tuple[NDArray[np.float32], int]:
    """An audio file -> ((S, C) float32, rate), via libsndfile or else PyAV (mp3, m4a, ...)."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return np.ascontiguousarray(data), int(rate)
    except (soundfile.LibsndfileError, RuntimeError):
        return _read_with_av(path)


def _read_with_av(path: Path) -> tuple[NDArray[np.float32], int]:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = int(stream.rate)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            parts = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
    except (av.error.FFmpegError, IndexError) as exc:
        raise AudioError(f"{path}: cannot read audio ({exc})", "unreadable_file") from exc
    return np.concatenate(parts).astype(np.float32)[:, None], rate
