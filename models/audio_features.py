"""16 kHz log-mel features at 50 Hz, written so that they export to ONNX.

The STFT is a strided conv1d with a fixed windowed-DFT basis and the mel filterbank is a matmul, so
the export path has no torch.stft. Frames are causal: frame k covers the 512 samples that end at
sample (k + 1) * HOP_SAMPLES; the first frames see `CONTEXT_SAMPLES` zeros of left padding. The
module takes audio that already carries its left context and returns one frame per hop, so the
streaming path (engine/motion/features.py) and the whole-clip path are the same computation.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
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


# --- loudness normalisation ---------------------------------------------------------------------
# A quiet recording should drive the mouth like a loud one. The front end scales the audio so the
# loudest recent speech sits at LOUDNESS_TARGET_DBFS: per 20 ms block (one log-mel hop), the level
# is the mean power of the last 5 blocks (100 ms), the speech level is the largest such level over
# the last 3 s, and the block's gain is TARGET - speech level, clamped. A block's gain uses only
# that block and earlier ones, and a block is only used once all its samples are there, which the
# log-mel frame that ends with it needs anyway: no latency is added. The gain ramps linearly across
# each block from the previous block's gain (no clicks). Digital silence or faint noise alone gets
# at most LOUDNESS_MAX_GAIN_DB, so a silent stretch stays far below speech.
LOUDNESS_TARGET_DBFS = -18.0
LOUDNESS_MAX_GAIN_DB = 30.0
LOUDNESS_MIN_GAIN_DB = -12.0
LOUDNESS_SMOOTH_BLOCKS = 5  # 100 ms
LOUDNESS_HOLD_BLOCKS = 150  # 3 s
_POWER_FLOOR = 1e-12


class LoudnessNormalizer:
    """Causal automatic gain on 16 kHz audio: chunks in, gained samples of whole hops out."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, np.float32)  # samples of the block still arriving
        self._powers: deque[float] = deque(maxlen=LOUDNESS_SMOOTH_BLOCKS)
        self._levels: deque[float] = deque(maxlen=LOUDNESS_HOLD_BLOCKS)
        self._gain = 1.0  # the previous block's gain (linear)
        self._started = False

    def process(self, chunk: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(S,) samples -> the gained samples of every block completed so far (a multiple of
        HOP_SAMPLES long); the rest waits for the next chunk."""
        audio = np.concatenate([self._pending, chunk.astype(np.float32, copy=False)])
        n_blocks = len(audio) // HOP_SAMPLES
        self._pending = audio[n_blocks * HOP_SAMPLES :]
        if n_blocks == 0:
            return np.zeros(0, np.float32)
        blocks = audio[: n_blocks * HOP_SAMPLES].reshape(n_blocks, HOP_SAMPLES)
        out = np.empty_like(blocks)
        ramp = (np.arange(1, HOP_SAMPLES + 1, dtype=np.float32)) / HOP_SAMPLES
        for k, block in enumerate(blocks):
            gain = self._block_gain(float(np.mean(block.astype(np.float64) ** 2)))
            previous = gain if not self._started else self._gain
            self._started = True
            out[k] = block * (previous + (gain - previous) * ramp)
            self._gain = gain
        return out.reshape(-1)

    def _block_gain(self, power: float) -> float:
        self._powers.append(power)
        smoothed_db = 10.0 * math.log10(sum(self._powers) / len(self._powers) + _POWER_FLOOR)
        block_db = 10.0 * math.log10(power + _POWER_FLOOR)
        self._levels.append(max(smoothed_db, block_db - 3.0))
        gain_db = min(max(LOUDNESS_TARGET_DBFS - max(self._levels), LOUDNESS_MIN_GAIN_DB),
                      LOUDNESS_MAX_GAIN_DB)  # fmt: skip
        return float(10.0 ** (gain_db / 20.0))


def normalize_loudness(
    audio: npt.NDArray[np.float32], multiple_samples: int = 2 * HOP_SAMPLES
) -> npt.NDArray[np.float32]:
    """A whole clip, zero-padded at the end to `multiple_samples` (as a stream's flush pads it),
    through a fresh LoudnessNormalizer: what the streaming front end computes."""
    tail = -len(audio) % multiple_samples
    padded = np.concatenate([audio.astype(np.float32), np.zeros(tail, np.float32)])
    return LoudnessNormalizer().process(padded)
