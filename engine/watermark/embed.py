"""Embedding: add the payload's precomputed mark to every frame, equally to R, G and B.

The same offset on all three channels moves luma only (the channel every codec keeps best) and
leaves hue alone. The mark is precomputed once per payload as two uint8 planes (its positive and
negative parts), so a frame costs one saturating add and one saturating subtract (OpenCV).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.watermark.pattern import TILE_PX, mark_tile
from engine.watermark.payload import WatermarkPayload

FRAME_PX = 512
STRENGTH_RMS = 2.0  # grey levels: PSNR about 42 dB before clipping


class WatermarkEmbedder:
    def __init__(self, payload: WatermarkPayload, strength_rms: float = STRENGTH_RMS) -> None:
        self.payload = payload
        reps = -(-FRAME_PX // TILE_PX)
        tile = mark_tile(payload.symbols()) * strength_rms
        mark = np.round(np.tile(tile, (reps, reps))[:FRAME_PX, :FRAME_PX])  # (512, 512)
        rgb = np.repeat(mark[:, :, None], 3, axis=2)  # (512, 512, 3)
        self._plus = np.clip(rgb, 0, 255).astype(np.uint8)
        self._minus = np.clip(-rgb, 0, 255).astype(np.uint8)

    def embed(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A marked copy of a (512, 512, 3) uint8 frame."""
        if rgb.shape != self._plus.shape:
            raise ValueError(f"the watermark expects {self._plus.shape} frames, got {rgb.shape}")
        return np.asarray(cv2.subtract(cv2.add(rgb, self._plus), self._minus), np.uint8)
