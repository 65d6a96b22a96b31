"""Export the motion model to ONNX (opset 17): audio encoder (log-mel included) and denoiser.

- `audio_encoder.onnx`: audio (batch, samples) float32 -> features (batch, frames, D), where
  samples = CONTEXT_SAMPLES + (receptive_field_frames - 1 + frames) * HOP_SAMPLES: the caller
  supplies the left context, exactly as engine/motion/features.py does.
- `denoiser.onnx`: the MotionDiT forward() with its nine named inputs; batch and tokens are dynamic,
  so one file serves every profile and the batched CFG call.
Parity with onnxruntime is checked by engine/tools/onnx_motion.py (models/ stays free of runtimes).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.audio_encoder import AudioEncoder
from models.audio_features import CONTEXT_SAMPLES, HOP_SAMPLES, LogMel
from models.motion_checkpoint import MotionModel
from models.motion_dit import CONTROL_DIM, CONTROL_GROUPS, window_positions

OPSET = 17
DENOISER_INPUTS = (
    "noisy_motion",
    "context_motion",
    "known",
    "diffusion_time",
    "audio_features",
    "audio_keep",
    "controls",
    "control_keep",
    "positions",
)


class AudioFrontend(nn.Module):
    """Log-mel + encoder as one graph: (B, samples) -> (B, frames, D)."""

    def __init__(self, log_mel: LogMel, encoder: AudioEncoder) -> None:
        super().__init__()
        self.log_mel = log_mel
        self.encoder = encoder

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.encoder(self.log_mel(audio))  # (B, frames, D)
        return out


def frontend_samples(model: MotionModel, frames: int) -> int:
    """Audio samples the frontend needs to produce `frames` features."""
    context_frames = model.encoder.config.receptive_field_frames - 1
    return CONTEXT_SAMPLES + (context_frames + frames) * HOP_SAMPLES


def example_audio(model: MotionModel, batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    samples = frontend_samples(model, frames)
    return 0.3 * torch.randn(batch, samples, generator=generator)  # (B, samples)


def example_denoiser_inputs(
    model: MotionModel, batch: int, context: int = 8, new: int = 6, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    tokens = context + new
    dim = model.dit.config.motion_dim
    known = torch.zeros(batch, tokens, 1)  # (B, N, 1)
    known[:, :context] = 1.0
    return (
        torch.randn(batch, tokens, dim, generator=generator),  # noisy_motion (B, N, M)
        torch.randn(batch, tokens, dim, generator=generator),  # context_motion (B, N, M)
        known,
        torch.rand(batch, generator=generator),  # diffusion_time (B,)
        torch.randn(batch, 2 * tokens, model.dit.config.audio_dim, generator=generator),
        (torch.rand(batch, 1, generator=generator) > 0.5).float(),  # audio_keep (B, 1)
        torch.rand(batch, CONTROL_DIM, generator=generator),  # controls (B, C)
        torch.ones(batch, CONTROL_GROUPS),  # control_keep (B, G)
        window_positions(context, tokens).expand(batch, -1).contiguous(),  # positions (B, N)
    )


def export_motion(model: MotionModel, out_dir: Path) -> dict[str, Path]:
    """Write audio_encoder.onnx and denoiser.onnx under out_dir; returns their paths."""
    model = model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"audio_encoder": out_dir / "audio_encoder.onnx", "denoiser": out_dir / "denoiser.onnx"}
    frontend = AudioFrontend(model.log_mel, model.encoder)
    torch.onnx.export(
        frontend,
        (example_audio(model, 2, 10),),
        str(paths["audio_encoder"]),
        input_names=["audio"],
        output_names=["features"],
        dynamic_axes={"audio": {0: "batch", 1: "samples"}, "features": {0: "batch", 1: "frames"}},
        opset_version=OPSET,
        dynamo=False,
    )
    export_denoiser(model, out_dir)
    return paths


def export_denoiser(model: MotionModel, out_dir: Path) -> Path:
    """Write denoiser.onnx alone (what the live engine samples with) under out_dir."""
    model = model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "denoiser.onnx"
    dynamic = {name: {0: "batch"} for name in DENOISER_INPUTS}
    for name in ("noisy_motion", "context_motion", "known", "audio_features", "positions"):
        dynamic[name][1] = "tokens" if name != "audio_features" else "audio_frames"
    dynamic["x0"] = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        model.dit,
        example_denoiser_inputs(model, 2),
        str(path),
        input_names=list(DENOISER_INPUTS),
        output_names=["x0"],
        dynamic_axes=dynamic,
        opset_version=OPSET,
        dynamo=False,
    )
    return path
