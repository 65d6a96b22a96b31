"""Render frames of one prepared avatar with the torch decoder (the reference backend)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar import PreparedAvatar
from models import motion_space as ms
from models.decoder import AVATAR_INPUTS, DecoderConfig, FaceDecoder


def avatar_tensors(avatar: PreparedAvatar) -> dict[str, torch.Tensor]:
    """The avatar's inputs to FaceDecoder.forward, by name (AVATAR_INPUTS order)."""
    rig = avatar.rig
    background = avatar.background.astype(np.float32).transpose(2, 0, 1)[None]  # 0..255
    arrays = {
        "source_motion": avatar.source_motion,
        "background": background,
        **{name: rig[name] for name in AVATAR_INPUTS if name in rig},
    }
    return {
        name: torch.from_numpy(np.ascontiguousarray(arrays[name], dtype=np.float32))
        for name in AVATAR_INPUTS
    }


class AvatarRenderer:
    """Binds one avatar to a decoder: motion frames in, uint8 RGB frames out."""

    def __init__(self, avatar: PreparedAvatar, decoder: FaceDecoder | None = None) -> None:
        grid_size = int(avatar.rig["grid_size"])
        self.decoder = decoder or FaceDecoder(DecoderConfig(grid_size=grid_size))
        self.decoder.eval()
        self.inputs = avatar_tensors(avatar)
        self.source_motion = avatar.source_motion.copy()

    @torch.inference_mode()
    def render(self, motion: NDArray[np.float32]) -> NDArray[np.uint8]:
        """(B, MOTION_DIM) or (MOTION_DIM,) float -> (B, 512, 512, 3) uint8."""
        batch = np.atleast_2d(np.asarray(motion, dtype=np.float32))
        if batch.shape[1] != ms.MOTION_DIM:
            raise ValueError(f"motion has {batch.shape[1]} fields, expected {ms.MOTION_DIM}")
        frames = self.decoder(torch.from_numpy(batch), *self.inputs.values())
        return np.asarray(frames.numpy())
