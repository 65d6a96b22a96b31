"""Audio encoder: log-mel frames -> 50 Hz speech features with a bounded lookahead.

A stack of causal dilated convolutions without padding ("valid"), so the module maps
`receptive_field_frames - 1 + n` input frames to exactly `n` outputs and holds no state: the
caller supplies the left context (streaming keeps the last frames; the whole-clip path pads with
silence). Output n depends on input frames [n, n + receptive_field_frames). Callers align it so
that the feature of frame t sees log-mel frames up to t + lookahead_frames (40 ms for 2 frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from models.audio_features import N_MELS


@dataclass(frozen=True)
class AudioEncoderConfig:
    n_mels: int = N_MELS
    channels: int = 96
    kernel_frames: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
    out_dim: int = 96
    lookahead_frames: int = 2  # right context, in 50 Hz frames

    @property
    def receptive_field_frames(self) -> int:
        return 1 + (self.kernel_frames - 1) * sum(self.dilations)

    @property
    def left_context_frames(self) -> int:
        return self.receptive_field_frames - 1 - self.lookahead_frames

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> AudioEncoderConfig:
        fields = dict(values)
        fields["dilations"] = tuple(fields["dilations"])  # type: ignore[arg-type]
        return cls(**fields)  # type: ignore[arg-type]


AUDIO_ENCODER_PRESETS: dict[str, AudioEncoderConfig] = {
    "S": AudioEncoderConfig(),
    "B": AudioEncoderConfig(channels=256, dilations=(1, 2, 4, 8, 1, 2, 4, 8), out_dim=256),
}


class ChannelNorm(nn.Module):
    """LayerNorm over channels of (B, C, T), per frame, so it never mixes time steps."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, C, T)


class CausalBlock(nn.Module):
    """Pre-norm residual: norm -> dilated valid conv -> GELU -> 1x1 conv, plus a cropped skip."""

    def __init__(self, channels: int, kernel_frames: int, dilation: int) -> None:
        super().__init__()
        self.crop_frames = (kernel_frames - 1) * dilation
        self.norm = ChannelNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_frames, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mix(nn.functional.gelu(self.conv(self.norm(x))))  # (B, C, T - crop)
        return x[:, :, self.crop_frames :] + h  # (B, C, T - crop)


class AudioEncoder(nn.Module):
    """(B, n_mels, receptive_field_frames - 1 + n) log-mel -> (B, n, out_dim) features."""

    def __init__(self, config: AudioEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.proj_in = nn.Conv1d(config.n_mels, config.channels, 1)
        self.blocks = nn.ModuleList(
            CausalBlock(config.channels, config.kernel_frames, d) for d in config.dilations
        )
        self.norm_out = ChannelNorm(config.channels)
        self.proj_out = nn.Conv1d(config.channels, config.out_dim, 1)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = self.proj_in(log_mel)  # (B, C, T)
        for block in self.blocks:
            x = block(x)  # (B, C, T - crop)
        return self._head(x)  # (B, n, D)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        features = self.proj_out(self.norm_out(x))  # (B, D, n)
        out: torch.Tensor = features.transpose(1, 2)  # (B, n, D)
        return out

    # Streaming: each block keeps the last `crop_frames` frames of its own input, so a new log-mel
    # frame costs one frame of work per layer instead of a pass over the receptive field. The
    # values are those of forward() on the whole sequence.

    def prime_cache(self, log_mel: torch.Tensor) -> list[torch.Tensor]:
        """(B, n_mels, F >= receptive_field_frames - 1) first frames -> per-block input caches."""
        x = self.proj_in(log_mel)  # (B, C, F)
        caches = []
        for index, block in enumerate(self.blocks):
            assert isinstance(block, CausalBlock)
            caches.append(x[:, :, x.shape[2] - block.crop_frames :])  # (B, C, crop)
            if index + 1 < len(self.blocks):  # the last block's output is not needed
                x = block(x)  # (B, C, F - crop)
        return caches

    def stream_step(
        self, log_mel: torch.Tensor, caches: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, n_mels, n) frames that follow the cached ones -> ((B, n, D), updated caches)."""
        x = self.proj_in(log_mel)  # (B, C, n)
        updated = []
        for block, cache in zip(self.blocks, caches, strict=True):
            assert isinstance(block, CausalBlock)
            x = torch.cat([cache, x], dim=2)  # (B, C, crop + n)
            updated.append(x[:, :, x.shape[2] - block.crop_frames :])  # (B, C, crop)
            x = block(x)  # (B, C, n)
        return self._head(x), updated
