"""The exported decoder in onnxruntime (CPU), bound to one avatar: a thin renderer over the
onnxruntime backend, kept for the decoder's parity test and benchmark."""

from __future__ import annotations

from pathlib import Path

from engine.avatar.prepared import PreparedAvatar
from engine.backends.onnxruntime_backend import OnnxRuntimeBackend
from engine.render.renderer import AvatarRenderer, avatar_arrays, avatar_tensors
from models.decoder import DecoderConfig, FaceDecoder
from models.export_decoder import export_decoder


class OnnxDecoder(AvatarRenderer):
    def __init__(self, model_path: Path, avatar: PreparedAvatar, threads: int = 1) -> None:
        super().__init__(
            avatar, backend=OnnxRuntimeBackend(model_path, avatar_arrays(avatar), threads)
        )

    @classmethod
    def export_for(cls, avatar: PreparedAvatar, model_path: Path, threads: int = 1) -> OnnxDecoder:
        """Export the decoder (gather sampler: faster in onnxruntime) and load it."""
        decoder = FaceDecoder(DecoderConfig.for_rig(avatar.rig, sampler="gather"))
        export_decoder(decoder, avatar_tensors(avatar), model_path)
        return cls(model_path, avatar, threads)
