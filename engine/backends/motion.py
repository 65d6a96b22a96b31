"""The motion graphs on a backend: audio frontend (log-mel + encoder) and denoiser.

`BackendDenoiser` lets the diffusion sampler (models.diffusion.ddim_sample) call the denoiser on any
backend: same call signature and normalisation as MotionDiT, tensors in and out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from engine.backends.base import Backend, BackendConfig
from engine.backends.graphs import (
    FEATURE_FRAME_RANGE,
    audio_encoder_graph,
    denoiser_graph,
    tensorrt_profile,
)
from engine.backends.select import open_backend
from models.export_motion import DENOISER_INPUTS, AudioFrontend, frontend_samples
from models.motion_checkpoint import MotionModel

if TYPE_CHECKING:
    from models.motion_dit import MotionDiT


def open_audio_encoder(model: MotionModel, config: BackendConfig, strict: bool = False) -> Backend:
    graph = audio_encoder_graph(model.encoder.config.out_dim)
    samples = {f: frontend_samples(model, f) for f in FEATURE_FRAME_RANGE}
    profile = tensorrt_profile(graph, config.max_batch, samples)

    def frontend() -> AudioFrontend:
        return AudioFrontend(model.log_mel, model.encoder)

    return open_backend(graph, config, frontend, profile=profile, strict=strict)


def open_denoiser(model: MotionModel, config: BackendConfig, strict: bool = False) -> Backend:
    graph = denoiser_graph(model.dit.config.motion_dim, model.dit.config.audio_dim)
    profile = tensorrt_profile(graph, config.max_batch)
    return open_backend(graph, config, lambda: model.dit, profile=profile, strict=strict)


class BackendDenoiser:
    """Duck-types MotionDiT for the sampler: forward through a backend, normalisation from torch."""

    def __init__(self, backend: Backend, dit: MotionDiT) -> None:
        self.backend = backend
        self.config = dit.config
        self.normalize = dit.normalize
        self.denormalize = dit.denormalize

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feeds = {name: value.numpy() for name, value in zip(DENOISER_INPUTS, inputs, strict=True)}
        (x0,) = self.backend.run(feeds).values()  # (B, N, M)
        return torch.from_numpy(np.asarray(x0, dtype=np.float32))

    def as_dit(self) -> MotionDiT:
        """This object typed as the module the sampler expects (it only calls it)."""
        return cast("MotionDiT", self)
