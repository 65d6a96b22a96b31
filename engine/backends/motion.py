"""The motion graphs on a backend: audio frontend (log-mel + encoder) and denoiser.

`BackendDenoiser` lets the diffusion sampler (models.diffusion.ddim_sample) call the denoiser on any
backend: same call signature and normalisation as MotionDiT, tensors in and out.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import nn

from engine.backends.base import Backend, BackendConfig, BackendName
from engine.backends.graphs import (
    FEATURE_FRAME_RANGE,
    audio_encoder_graph,
    denoiser_graph,
    tensorrt_profile,
)
from engine.backends.select import open_backend
from models.export_motion import (
    DENOISER_INPUTS,
    AudioFrontend,
    export_denoiser,
    frontend_samples,
)
from models.motion_checkpoint import MotionModel

if TYPE_CHECKING:
    from models.motion_dit import MotionDiT

log = logging.getLogger(__name__)


def open_audio_encoder(model: MotionModel, config: BackendConfig, strict: bool = False) -> Backend:
    graph = audio_encoder_graph(model.encoder.config.out_dim)
    samples = {f: frontend_samples(model, f) for f in FEATURE_FRAME_RANGE}
    profile = tensorrt_profile(graph, config.max_batch, samples)

    def frontend() -> AudioFrontend:
        return AudioFrontend(model.log_mel, model.encoder)

    return open_backend(graph, config, frontend, profile=profile, strict=strict)


def open_denoiser(model: MotionModel, config: BackendConfig, strict: bool = False) -> Backend:
    """The denoiser graph on the configured backend. The torch backends get a copy of the DiT:
    moving it to a GPU must not move the model that the CPU side (normalisation) still uses."""
    graph = denoiser_graph(model.dit.config.motion_dim, model.dit.config.audio_dim)
    profile = tensorrt_profile(graph, config.max_batch)

    def dit_copy() -> nn.Module:
        return copy.deepcopy(model.dit)

    return open_backend(graph, config, dit_copy, profile=profile, strict=strict)


def sampling_denoiser(model: MotionModel, config: BackendConfig) -> MotionDiT | None:
    """What the stream engine samples motion windows with under `config` (the fallback order of
    engine/backends/select.py, logged there): None where that is torch on the CPU (the model's
    own DiT, called directly), else the denoiser on its backend (torch-cuda, onnxruntime,
    TensorRT) behind the sampler's call signature, host tensors in and out.

    `auto` without CUDA means onnxruntime here: on a CPU it runs the denoiser about twice as
    fast as torch (docs/benchmarks.md), so the graph is exported on the spot (~0.4 s) and
    loaded; torch-cpu is the fallback if that fails."""
    if config.backend == BackendName.AUTO and not torch.cuda.is_available():
        with tempfile.TemporaryDirectory() as tmp:
            exported = Path(tmp)
            try:
                with warnings.catch_warnings():  # the exporter's deprecation and tracer notes
                    warnings.simplefilter("ignore")
                    export_denoiser(model, exported)
            except Exception:  # the folder stays empty: the fallback says why, torch-cpu runs
                log.warning("exporting the motion denoiser for onnxruntime failed", exc_info=True)
            cpu = replace(config, backend=BackendName.ONNXRUNTIME, artifacts_dir=exported)
            backend = open_denoiser(model, cpu)  # loaded into memory: the folder may go
    else:
        backend = open_denoiser(model, config)
    if backend.name == BackendName.TORCH_CPU:
        return None
    return BackendDenoiser(backend, model.dit).as_dit()


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
