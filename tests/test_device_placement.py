"""The CUDA path without a GPU: every tensor the decoder and the sampler make must be made on the
device of their inputs, and half-precision autocast must not move pixels. The "meta" device (shapes
only, no data) stands in for CUDA: mixing it with a CPU tensor fails the way CUDA would; CPU
autocast stands in for CUDA autocast (matmuls in fp16/bf16)."""

from __future__ import annotations

import copy
from dataclasses import fields

import numpy as np
import pytest
import torch

from engine.bench.decoder import motion_sweep
from engine.bench.render import _window_condition
from engine.motion.profiles import get_profile
from engine.render.renderer import avatar_tensors
from models.decoder import DecoderConfig, FaceDecoder, stack_avatars
from models.diffusion import WindowCondition, ddim_sample
from tests.test_motion_model import random_model


@pytest.mark.parametrize("sampler", ["grid_sample", "gather"])
@pytest.mark.parametrize("stacked", [False, True], ids=["one-avatar", "stacked"])
def test_decoder_makes_its_tensors_on_the_input_device(
    prepared_avatar, sampler: str, stacked: bool
) -> None:
    avatar = prepared_avatar("astronaut.png")
    tensors = avatar_tensors(avatar)
    if stacked:
        tensors = stack_avatars([tensors, tensors])
    config = DecoderConfig(grid_size=int(avatar.rig["grid_size"]), sampler=sampler)
    decoder = FaceDecoder(config).eval().to("meta")
    motion = torch.from_numpy(motion_sweep(avatar, 2)).to("meta")
    with torch.inference_mode():
        frames = decoder(motion, *(t.to("meta") for t in tensors.values()))
    assert frames.device.type == "meta" and tuple(frames.shape) == (2, 512, 512, 3)


def test_sampler_makes_its_tensors_on_the_model_device() -> None:
    model = random_model()
    condition = _window_condition(model, get_profile("low-latency"))
    dit = copy.deepcopy(model.dit).to("meta")
    on_meta = WindowCondition(
        *(getattr(condition, f.name).to("meta") for f in fields(WindowCondition))
    )
    noise = torch.randn(condition.context_motion.shape).to("meta")
    generator = torch.Generator().manual_seed(0)  # a seeded CPU generator, as streams have
    window = ddim_sample(dit, noise, on_meta, 4, 1.5, eta=1.0, generator=generator)
    assert window.device.type == "meta" and window.shape == condition.context_motion.shape


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_half_precision_autocast_keeps_decoder_frames(prepared_avatar, dtype: torch.dtype) -> None:
    """Before the rig geometry was kept in fp32, bf16 moved lip edges (166 levels off)."""
    avatar = prepared_avatar("astronaut.png")
    tensors = avatar_tensors(avatar).values()
    decoder = FaceDecoder(DecoderConfig(grid_size=int(avatar.rig["grid_size"]))).eval()
    motion = torch.from_numpy(motion_sweep(avatar, 4))
    with torch.inference_mode():
        full = decoder(motion, *tensors)
        with torch.autocast("cpu", dtype=dtype):
            half = decoder(motion, *tensors)
    difference = np.abs(full.numpy().astype(int) - half.numpy())
    assert difference.max() <= 2 and difference.mean() < 0.01
