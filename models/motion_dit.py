"""Motion diffusion transformer: denoises one window of motion frames, conditioned on audio.

Tokens are the 25 Hz motion frames of a window [P context | W new | L lookahead]. Each token
carries its motion (clean for context slots, noisy otherwise) plus a known-flag, the two 50 Hz audio
features of its frame (concatenated), and a position counted from the first new frame. The
diffusion time and the controls (emotion + intensity, gaze, head distance) condition every block
through adaLN-Zero (DiT). The network predicts clean normalized motion x0 for every token.

Dropping conditions: `audio_keep` = 0 swaps the audio for a learned null token (classifier-free
guidance on audio); `control_keep` columns = 0 hide a control group. Both are tensors, so forward()
has no data-dependent branching and exports to ONNX. The schedule and sampler live in diffusion.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from models import motion_space

MOTION_DIM = motion_space.MOTION_DIM
N_EMOTIONS = len(motion_space.EMOTIONS)
# Control vector layout: emotion one-hot, intensity, gaze x/y, head distance.
CONTROL_DIM = N_EMOTIONS + 4
# control_keep columns: emotion (+ intensity), gaze, head distance.
CONTROL_GROUPS = 3
MAX_CONTEXT_FRAMES = 24  # positions are offset by this so the first new frame has a fixed index
MAX_POSITIONS = 80


@dataclass(frozen=True)
class MotionDiTConfig:
    width: int = 128
    depth: int = 3
    heads: int = 4
    mlp_ratio: float = 2.0
    audio_dim: int = 96  # per 50 Hz audio feature; two per token
    motion_dim: int = MOTION_DIM

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


MOTION_DIT_PRESETS: dict[str, MotionDiTConfig] = {
    "S": MotionDiTConfig(),
    "B": MotionDiTConfig(width=384, depth=8, heads=6, mlp_ratio=4.0, audio_dim=256),
}


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) diffusion time in [0, 1] -> (B, dim) sinusoidal embedding."""
    half = dim // 2
    steps = torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(-math.log(10_000.0) * steps / half)  # (H,)
    args = (t[:, None] * 1000.0) * freqs[None]  # (B, H)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1.0 + scale[:, None]) + shift[:, None]  # (B, N, D)


class Attention(nn.Module):
    """Full self-attention within the window, written with matmuls so that it exports plainly."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        head_dim = self.head_dim
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, head_dim)  # (B, N, 3, H, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, N, d)
        weights = torch.softmax(q @ k.transpose(-2, -1) * head_dim**-0.5, dim=-1)  # (B, H, N, N)
        out = (weights @ v).transpose(1, 2).reshape(batch, tokens, width)  # (B, N, D)
        projected: torch.Tensor = self.proj(out)  # (B, N, D)
        return projected


class DiTBlock(nn.Module):
    def __init__(self, config: MotionDiTConfig) -> None:
        super().__init__()
        width = config.width
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, config.heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * config.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(cond).chunk(
            6, dim=-1
        )  # (B, D) each
        x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1))  # (B, N, D)
        out: torch.Tensor = x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return out  # (B, N, D)


class MotionDiT(nn.Module):
    """Denoiser: see the module docstring. Motion in/out is normalized (see normalize())."""

    motion_mean: torch.Tensor
    motion_std: torch.Tensor

    def __init__(self, config: MotionDiTConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.motion_in = nn.Linear(config.motion_dim + 1, width)
        self.audio_in = nn.Linear(2 * config.audio_dim, width)
        self.audio_null = nn.Parameter(torch.zeros(width))
        self.position = nn.Embedding(MAX_POSITIONS, width)
        self.time_mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        control_in = CONTROL_DIM + CONTROL_GROUPS
        self.control_mlp = nn.Sequential(
            nn.Linear(control_in, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.blocks = nn.ModuleList(DiTBlock(config) for _ in range(config.depth))
        self.norm_out = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.head = nn.Linear(width, config.motion_dim)
        # Per-field statistics of the training motion, saved with the weights.
        self.register_buffer("motion_mean", torch.zeros(config.motion_dim))
        self.register_buffer("motion_std", torch.ones(config.motion_dim))
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.position.weight, std=0.02)
        nn.init.normal_(self.audio_null, std=0.02)
        for block in self.blocks:
            assert isinstance(block, DiTBlock)
            _zero_linear(block.ada[-1])
        _zero_linear(self.ada_out[-1])
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def normalize(self, motion: torch.Tensor) -> torch.Tensor:
        return (motion - self.motion_mean) / self.motion_std  # (..., M)

    def denormalize(self, motion: torch.Tensor) -> torch.Tensor:
        return motion * self.motion_std + self.motion_mean  # (..., M)

    def forward(
        self,
        noisy_motion: torch.Tensor,  # (B, N, M) normalized x_t
        context_motion: torch.Tensor,  # (B, N, M) normalized known frames (anything where unknown)
        known: torch.Tensor,  # (B, N, 1) 1 for context slots
        diffusion_time: torch.Tensor,  # (B,) in [0, 1]
        audio_features: torch.Tensor,  # (B, 2N, A) two 50 Hz features per token
        audio_keep: torch.Tensor,  # (B, 1) 1 = use audio, 0 = null (CFG)
        controls: torch.Tensor,  # (B, CONTROL_DIM)
        control_keep: torch.Tensor,  # (B, CONTROL_GROUPS)
        positions: torch.Tensor,  # (B, N) int64, index of each frame, first new frame = MAX_CONTEXT
    ) -> torch.Tensor:
        batch, tokens, _ = noisy_motion.shape
        motion = noisy_motion * (1.0 - known) + context_motion * known  # (B, N, M)
        x = self.motion_in(torch.cat([motion, known], dim=-1))  # (B, N, D)
        audio = self.audio_in(audio_features.reshape(batch, tokens, -1))  # (B, N, D)
        keep = audio_keep[:, :, None]  # (B, 1, 1)
        x = x + audio * keep + self.audio_null * (1.0 - keep)  # (B, N, D)
        x = x + self.position(positions)  # (B, N, D)
        cond = self.time_mlp(timestep_embedding(diffusion_time, self.config.width))  # (B, D)
        cond = cond + self.control_mlp(self._masked_controls(controls, control_keep))  # (B, D)
        for block in self.blocks:
            x = block(x, cond)  # (B, N, D)
        shift, scale = self.ada_out(cond).chunk(2, dim=-1)  # (B, D) each
        x0: torch.Tensor = self.head(modulate(self.norm_out(x), shift, scale))  # (B, N, M)
        return x0

    @staticmethod
    def _masked_controls(controls: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        emotion_keep = keep[:, 0:1].expand(-1, N_EMOTIONS + 1)  # (B, E + 1)
        per_column = torch.cat([emotion_keep, keep[:, 1:2], keep[:, 1:2], keep[:, 2:3]], dim=-1)
        return torch.cat([controls * per_column, keep], dim=-1)  # (B, CONTROL_DIM + GROUPS)


def _zero_linear(layer: nn.Module) -> None:
    """adaLN-Zero: modulation starts as identity with closed gates."""
    assert isinstance(layer, nn.Linear)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


def control_vector(
    emotion: int, emotion_intensity: float, gaze: tuple[float, float], head_distance: float
) -> torch.Tensor:
    """(CONTROL_DIM,) control vector in the layout the denoiser expects."""
    values = torch.zeros(CONTROL_DIM)
    values[emotion] = 1.0
    values[N_EMOTIONS] = float(emotion_intensity)
    values[N_EMOTIONS + 1] = float(gaze[0])
    values[N_EMOTIONS + 2] = float(gaze[1])
    values[N_EMOTIONS + 3] = float(head_distance)
    return values


def window_positions(context_frames: int, total_frames: int) -> torch.Tensor:
    """(N,) int64 positions of a window whose new frames start after `context_frames`."""
    return torch.arange(total_frames) - context_frames + MAX_CONTEXT_FRAMES
