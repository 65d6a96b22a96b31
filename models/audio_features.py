"""16 kHz log-mel features at 50 Hz, written so that they export to ONNX.

The STFT is a strided conv1d with a fixed windowed-DFT basis and the mel filterbank is a matmul, so
the export path has no torch.stft. Frames are causal: frame k covers the 512 samples that end at
sample (k + 1) * HOP_SAMPLES; the first frames see `CONTEXT_SAMPLES` zeros of left padding. The
module takes audio that already carries its left context and returns one frame per hop, so the
streaming path (engine/motion/features.py) and the whole-clip path are the same computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

AUDIO_RATE_HZ = 16_000
HOP_SAMPLES = 320  # 20 ms -> 50 Hz frames
FEATURE_RATE_HZ = AUDIO_RATE_HZ // HOP_SAMPLES
N_FFT = 512
WIN_SAMPLES = 400
CONTEXT_SAMPLES = N_FFT - HOP_SAMPLES  # left context a frame needs beyond its own hop
N_MELS = 80
LOG_FLOOR = 1e-6  # power floor: digital silence maps to log(LOG_FLOOR), not -inf
# Fixed affine so that speech log-mels are roughly zero-mean, unit-scale (no data statistics).
LOG_OFFSET = 5.0
LOG_SCALE = 0.25


@dataclass(frozen=True)
class LogMelConfig:
    n_mels: int = N_MELS
    f_min_hz: float = 20.0
    f_max_hz: float = 7600.0


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(config: LogMelConfig) -> torch.Tensor:
    """(n_mels, N_FFT // 2 + 1) triangular HTK-mel filters, area-normalised (slaney style)."""
    n_bins = N_FFT // 2 + 1
    bin_hz = torch.linspace(0.0, AUDIO_RATE_HZ / 2, n_bins, dtype=torch.float64)  # (F,)
    mels = torch.linspace(
        _hz_to_mel(config.f_min_hz),
        _hz_to_mel(config.f_max_hz),
        config.n_mels + 2,
        dtype=torch.float64,
    )
    edges_hz = _mel_to_hz(mels)  # (M + 2,)
    low, center, high = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None] - low) / (center - low)  # (M, F)
    falling = (high - bin_hz[None]) / (high - center)  # (M, F)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (M, F)
    filters = filters * (2.0 / (high - low))
    return filters.float()


def dft_basis() -> torch.Tensor:
    """(2 * (N_FFT // 2 + 1), 1, N_FFT) conv weights: Hann-windowed cos rows then -sin rows."""
    n_bins = N_FFT // 2 + 1
    pad = (N_FFT - WIN_SAMPLES) // 2
    window = torch.zeros(N_FFT, dtype=torch.float64)
    window[pad : pad + WIN_SAMPLES] = torch.hann_window(
        WIN_SAMPLES, periodic=True, dtype=torch.float64
    )
    n = torch.arange(N_FFT, dtype=torch.float64)
    k = torch.arange(n_bins, dtype=torch.float64)
    phase = 2.0 * math.pi * k[:, None] * n[None] / N_FFT  # (F, N_FFT)
    basis = torch.cat([torch.cos(phase), -torch.sin(phase)]) * window[None]  # (2F, N_FFT)
    return basis.float()[:, None, :]


class LogMel(nn.Module):
    """(B, CONTEXT_SAMPLES + n * HOP_SAMPLES) audio -> (B, n_mels, n) scaled log-mel frames."""

    def __init__(self, config: LogMelConfig | None = None) -> None:
        super().__init__()
        self.config = config or LogMelConfig()
        self.basis: torch.Tensor
        self.filters: torch.Tensor
        # Fixed, derived from constants: not part of a checkpoint.
        self.register_buffer("basis", dft_basis(), persistent=False)
        self.register_buffer("filters", mel_filterbank(self.config), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spectrum = nn.functional.conv1d(
            audio[:, None, :], self.basis, stride=HOP_SAMPLES
        )  # (B, 2F, n)
        n_bins = spectrum.shape[1] // 2
        power = spectrum[:, :n_bins] ** 2 + spectrum[:, n_bins:] ** 2  # (B, F, n)
        mel = torch.matmul(self.filters, power)  # (B, M, n)
        return (torch.log(mel + LOG_FLOOR) + LOG_OFFSET) * LOG_SCALE  # (B, M, n)


def silence_log_mel() -> float:
    """The value every log-mel bin takes on digital silence (used to pad frame sequences)."""
    return (math.log(LOG_FLOOR) + LOG_OFFSET) * LOG_SCALE


def pad_clip(audio: torch.Tensor, multiple_samples: int = 2 * HOP_SAMPLES) -> torch.Tensor:
    """(..., S) audio -> (..., CONTEXT_SAMPLES + S') with S' = S rounded up to `multiple_samples`.

    The whole-clip path: zeros of left context (what a stream starts with) and zeros to the end of
    the last motion frame (what a stream's flush adds).
    """
    n_samples = audio.shape[-1]
    tail = -n_samples % multiple_samples
    return nn.functional.pad(audio, (CONTEXT_SAMPLES, tail))
