"""Run the exported decoder in onnxruntime (CPU), bound to one avatar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from engine.avatar import PreparedAvatar
from engine.renderer import avatar_tensors
from models.decoder import DecoderConfig, FaceDecoder
from models.export_decoder import export_decoder


class OnnxDecoder:
    def __init__(self, model_path: Path, avatar: PreparedAvatar, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self.feeds = {name: t.numpy() for name, t in avatar_tensors(avatar).items()}

    @classmethod
    def export_for(cls, avatar: PreparedAvatar, model_path: Path, threads: int = 1) -> OnnxDecoder:
        """Export the decoder (gather sampler: faster in onnxruntime) and load it."""
        grid_size = int(avatar.rig["grid_size"])
        decoder = FaceDecoder(DecoderConfig(grid_size=grid_size, sampler="gather"))
        export_decoder(decoder, avatar_tensors(avatar), model_path)
        return cls(model_path, avatar, threads)

    def render(self, motion: NDArray[np.float32]) -> NDArray[np.uint8]:
        batch = np.atleast_2d(np.asarray(motion, dtype=np.float32))
        frames = self.session.run(["frames"], {**self.feeds, "motion": batch})[0]
        return np.asarray(frames, dtype=np.uint8)
