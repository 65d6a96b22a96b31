"""Render frames of one prepared avatar: motion in, uint8 RGB frames out, on any decoder backend.

The avatar's tensors are bound to the backend once (copied to its device once); a call sends only
the batch of motion frames. The backend comes from the process-wide BackendConfig (set once by the
server or a command, `set_default_backend_config`) unless one is passed: torch-cpu on a CPU-only
machine, the GPU fallback order where CUDA is present (engine/backends/select.py).

On the torch backends, renderers of different avatars can also share one decoder call
(`render_stacked`): how the scheduler batches frames of many sessions on a GPU.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import cast

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar.prepared import PreparedAvatar
from engine.backends.base import Backend, BackendConfig, BackendName
from engine.backends.graphs import decoder_graph, tensorrt_profile
from engine.backends.select import open_backend
from engine.backends.torch_backend import TorchBackend
from engine.render.memory import keep_freed_memory
from models import motion_space as ms
from models.decoder import AVATAR_INPUTS, DecoderConfig, FaceDecoder, stack_avatars

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
    keep_freed_memory()  # a frame's tensors stay in the heap, not faulted in anew each frame
    arrays = avatar_arrays(avatar)
    graph = decoder_graph(arrays)

    def torch_decoder() -> FaceDecoder:
        return decoder or FaceDecoder(DecoderConfig.for_rig(avatar.rig))

    profile = tensorrt_profile(graph, config.max_batch)
    return open_backend(graph, config, torch_decoder, arrays, profile, strict)


class AvatarRenderer:
    """Binds one avatar to a decoder backend: motion frames in, uint8 RGB frames out.

    With an explicit `decoder` module and no backend, that module runs in torch on the CPU (the
    reference path the decoder tests use). Renderers with the same `stack_key` (not None) can
    render frames of their different avatars in one decoder call (`render_stacked`).
    """

    def __init__(
        self,
        avatar: PreparedAvatar,
        decoder: FaceDecoder | None = None,
        backend: Backend | BackendConfig | None = None,
    ) -> None:
        if backend is None and decoder is not None:
            backend = BackendConfig(backend=BackendName.TORCH_CPU)
        config = backend if isinstance(backend, BackendConfig) else _default_config
        if backend is None or isinstance(backend, BackendConfig):
            backend = open_decoder_backend(avatar, backend, decoder)
        self.backend: Backend = backend
        self.source_motion = avatar.source_motion.copy()
        self.stack_key = _stack_key(backend, config.stack_avatars)

    def render(self, motion: NDArray[np.float32]) -> NDArray[np.uint8]:
        """(B, MOTION_DIM) or (MOTION_DIM,) float -> (B, 512, 512, 3) uint8."""
        frames = self.backend.run({"motion": _motion_batch(motion)})["frames"]
        return np.asarray(frames, dtype=np.uint8)


def _motion_batch(motion: NDArray[np.float32]) -> NDArray[np.float32]:
    batch = np.atleast_2d(np.asarray(motion, dtype=np.float32))
    if batch.ndim != 2 or batch.shape[1] != ms.MOTION_DIM:
        raise ValueError(f"motion has shape {batch.shape}, expected (B, {ms.MOTION_DIM})")
    return batch


def _stack_key(backend: Backend, stack: bool | None) -> Hashable | None:
    """Renderers that may share a stacked decoder call: the same torch decoder, device and
    precision. None where stacking is off (by default everywhere but CUDA) or not possible."""
    if not isinstance(backend, TorchBackend) or not isinstance(backend.module, FaceDecoder):
        return None  # exported graphs bind one avatar's tensors at build time
    if not (stack if stack is not None else backend.device.type == "cuda"):
        return None
    return (str(backend.device), backend.precision, backend.module.config)


def render_stacked(
    parts: Sequence[tuple[AvatarRenderer, NDArray[np.float32]]],
) -> list[NDArray[np.uint8]]:
    """Frames of several avatars in ONE decoder call: each part is (renderer, its motion
    (B_i, MOTION_DIM)); returns each part's (B_i, 512, 512, 3) frames, in order. Every renderer
    must have the same, non-None stack_key. Each avatar's tensors are already on the device;
    they are stacked there, one copy per frame."""
    keys = {renderer.stack_key for renderer, _ in parts}
    if len(keys) != 1 or None in keys:
        raise ValueError(f"renderers cannot share a decoder call (stack keys {keys})")
    motions = [_motion_batch(motion) for _, motion in parts]
    first = parts[0][0].backend
    assert isinstance(first, TorchBackend)  # a stack_key says so
    per_frame = [
        dict(cast(TorchBackend, renderer.backend).bound)
        for (renderer, _), motion in zip(parts, motions, strict=True)
        for _ in range(len(motion))
    ]
    values = stack_avatars(per_frame)
    values["motion"] = torch.from_numpy(np.concatenate(motions)).to(first.device)
    frames = np.asarray(first.call(values)["frames"], dtype=np.uint8)
    ends = np.cumsum([len(motion) for motion in motions])
    return list(np.split(frames, ends[:-1]))
