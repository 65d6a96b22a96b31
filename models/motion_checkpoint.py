"""The motion model as one unit (log-mel + audio encoder + denoiser) and its inference checkpoint.

The inference checkpoint is a plain dict: configs, motion-space version, training summary and a
state dict (fp16 to keep the committed file small; loaded back as fp32). Hyperparameters travel
inside it, so loading never needs the preset name.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models import motion_space
from models.audio_encoder import AUDIO_ENCODER_PRESETS, AudioEncoder, AudioEncoderConfig
from models.audio_features import LogMel
from models.motion_dit import MOTION_DIT_PRESETS, MotionDiT, MotionDiTConfig

CHECKPOINT_FORMAT = "gioconda-motion/1"


class CheckpointError(ValueError):
    """A motion checkpoint that is not ours or is from another motion-space version."""


class MotionModel(nn.Module):
    def __init__(self, encoder_config: AudioEncoderConfig, dit_config: MotionDiTConfig) -> None:
        super().__init__()
        self.log_mel = LogMel()
        self.encoder = AudioEncoder(encoder_config)
        self.dit = MotionDiT(dit_config)

    @classmethod
    def from_preset(cls, preset: str) -> MotionModel:
        return cls(AUDIO_ENCODER_PRESETS[preset], MOTION_DIT_PRESETS[preset])

    def configs(self) -> dict[str, Any]:
        return {"encoder": self.encoder.config.to_dict(), "dit": self.dit.config.to_dict()}


def save_inference_checkpoint(
    path: Path, model: MotionModel, preset: str, summary: dict[str, Any]
) -> None:
    state = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "motion_space_version": motion_space.MOTION_SPACE_VERSION,
            "preset": preset,
            "configs": model.configs(),
            "summary": summary,
            "state_dict": state,
        },
        path,
    )


def load_inference_checkpoint(path: Path) -> tuple[MotionModel, dict[str, Any]]:
    """-> (model in eval mode, fp32, the checkpoint's metadata without the weights)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:  # not a torch file at all
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    version = payload["motion_space_version"]
    if version != motion_space.MOTION_SPACE_VERSION:
        raise CheckpointError(
            f"{path}: motion space version {version}, this build uses "
            f"{motion_space.MOTION_SPACE_VERSION}"
        )
    configs = payload["configs"]
    model = MotionModel(
        AudioEncoderConfig.from_dict(configs["encoder"]), MotionDiTConfig(**configs["dit"])
    )
    model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta
