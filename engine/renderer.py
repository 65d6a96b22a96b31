"""Render frames of one prepared avatar: motion in, uint8 RGB frames out, on any decoder backend.

The avatar's tensors are bound to the backend once (copied to its device once); a call sends only
the batch of motion frames. The backend comes from the process-wide BackendConfig (set once by the
server or a command, `set_default_backend_config`) unless one is passed: torch-cpu on a CPU-only
machine, the GPU fallback order where CUDA is present (engine/backends/select.py).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar import PreparedAvatar
from engine.backends.base import Backend, BackendConfig, BackendName
from engine.backends.graphs import decoder_graph, tensorrt_profile
from engine.backends.select import open_backend
from models import motion_space as ms
from models.decoder import AVATAR_INPUTS, DecoderConfig, FaceDecoder

_default_config = BackendConfig()


def set_default_backend_config(config: BackendConfig) -> None:
    """Which backend renderers opened without an explicit one use (call once at start-up)."""
    global _default_config
    _default_config = config


def default_backend_config() -> BackendConfig:
    return _default_config


def avatar_arrays(avatar: PreparedAvatar) -> dict[str, NDArray[np.float32]]:
    """The avatar's inputs to FaceDecoder.forward, by name (AVATAR_INPUTS order), float32."""
    rig = avatar.rig
    background = avatar.background.astype(np.float32).transpose(2, 0, 1)[None]  # 0..255
    arrays = {
        "source_motion": avatar.source_motion,
        "background": background,
        **{name: rig[name] for name in AVATAR_INPUTS if name in rig},
    }
    return {name: np.ascontiguousarray(arrays[name], dtype=np.float32) for name in AVATAR_INPUTS}


def avatar_tensors(avatar: PreparedAvatar) -> dict[str, torch.Tensor]:
    """The avatar's inputs to FaceDecoder.forward as torch tensors (AVATAR_INPUTS order)."""
    return {name: torch.from_numpy(a) for name, a in avatar_arrays(avatar).items()}


def open_decoder_backend(
    avatar: PreparedAvatar,
    config: BackendConfig | None = None,
    decoder: FaceDecoder | None = None,
    strict: bool = False,
) -> Backend:
    """The decoder graph on the configured backend, with this avatar's tensors bound."""
    config = config or _default_config
    arrays = avatar_arrays(avatar)
    graph = decoder_graph(arrays)
    grid_size = int(avatar.rig["grid_size"])

    def torch_decoder() -> FaceDecoder:
        return decoder or FaceDecoder(DecoderConfig(grid_size=grid_size))

    profile = tensorrt_profile(graph, config.max_batch)
    return open_backend(graph, config, torch_decoder, arrays, profile, strict)


class AvatarRenderer:
    """Binds one avatar to a decoder backend: motion frames in, uint8 RGB frames out.

    With an explicit `decoder` module and no backend, that module runs in torch on the CPU (the
    reference path the decoder tests use).
    """

    def __init__(
        self,
        avatar: PreparedAvatar,
        decoder: FaceDecoder | None = None,
        backend: Backend | BackendConfig | None = None,
    ) -> None:
        if backend is None and decoder is not None:
            backend = BackendConfig(backend=BackendName.TORCH_CPU)
        if backend is None or isinstance(backend, BackendConfig):
            backend = open_decoder_backend(avatar, backend, decoder)
        self.backend: Backend = backend
        self.source_motion = avatar.source_motion.copy()

    def render(self, motion: NDArray[np.float32]) -> NDArray[np.uint8]:
        """(B, MOTION_DIM) or (MOTION_DIM,) float -> (B, 512, 512, 3) uint8."""
        batch = np.atleast_2d(np.asarray(motion, dtype=np.float32))
        if batch.ndim != 2 or batch.shape[1] != ms.MOTION_DIM:
            raise ValueError(f"motion has shape {batch.shape}, expected (B, {ms.MOTION_DIM})")
        frames = self.backend.run({"motion": batch})["frames"]
        return np.asarray(frames, dtype=np.uint8)
