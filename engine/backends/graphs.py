"""The three exported graphs: their inputs and outputs, file names and TensorRT shape ranges.

One table per graph keeps the torch backend, the ONNX export and the TensorRT profile agreeing
on names, order and dynamic axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.backends.base import GraphName, Precision, TensorSpec
from engine.backends.tensorrt_backend import ProfileShapes, Shape
from models import motion_space as ms
from models.decoder import AVATAR_INPUTS
from models.export_motion import DENOISER_INPUTS
from models.motion_dit import CONTROL_DIM, CONTROL_GROUPS

# Ranges of the non-batch dynamic axes that TensorRT profiles cover: (min, opt, max).
# tokens = P + W + L of a profile (low-latency 14, quality 25); two audio features per token.
TOKEN_RANGE = (1, 14, 32)
FEATURE_FRAME_RANGE = (1, 8, 64)  # 50 Hz features per audio-encoder call


@dataclass(frozen=True)
class GraphDef:
    name: GraphName
    inputs: tuple[TensorSpec, ...]  # every input, in forward() order
    outputs: tuple[TensorSpec, ...]

    @property
    def onnx_file(self) -> str:
        return f"{self.name}.onnx"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)


def decoder_graph(avatar_arrays: dict[str, NDArray[np.float32]], crop_px: int = 512) -> GraphDef:
    """motion (batch, D) + the avatar's tensors (fixed shapes) -> frames (batch, H, W, 3) uint8."""
    return GraphDef(
        GraphName.DECODER,
        inputs=(
            TensorSpec("motion", ("batch", ms.MOTION_DIM), "float32"),
            *(
                TensorSpec(name, tuple(avatar_arrays[name].shape), "float32")
                for name in AVATAR_INPUTS
            ),
        ),
        outputs=(TensorSpec("frames", ("batch", crop_px, crop_px, 3), "uint8"),),
    )


def audio_encoder_graph(feature_dim: int) -> GraphDef:
    return GraphDef(
        GraphName.AUDIO_ENCODER,
        inputs=(TensorSpec("audio", ("batch", "samples"), "float32"),),
        outputs=(TensorSpec("features", ("batch", "frames", feature_dim), "float32"),),
    )


def denoiser_graph(motion_dim: int, audio_dim: int) -> GraphDef:
    shapes: dict[str, tuple[tuple[int | str, ...], str]] = {
        "noisy_motion": (("batch", "tokens", motion_dim), "float32"),
        "context_motion": (("batch", "tokens", motion_dim), "float32"),
        "known": (("batch", "tokens", 1), "float32"),
        "diffusion_time": (("batch",), "float32"),
        "audio_features": (("batch", "audio_frames", audio_dim), "float32"),
        "audio_keep": (("batch", 1), "float32"),
        "controls": (("batch", CONTROL_DIM), "float32"),
        "control_keep": (("batch", CONTROL_GROUPS), "float32"),
        "positions": (("batch", "tokens"), "int64"),
    }
    return GraphDef(
        GraphName.DENOISER,
        inputs=tuple(TensorSpec(n, *shapes[n]) for n in DENOISER_INPUTS),
        outputs=(TensorSpec("x0", ("batch", "tokens", motion_dim), "float32"),),
    )


def engine_precision(graph: GraphName, requested: Precision) -> Precision:
    """The precision a TensorRT engine of `graph` is built in. The decoder's stays fp32: its
    graph is pixel coordinates (up to 512) and the lip-seam quartic, which half precision moves
    by whole pixels (under bf16 autocast, before its geometry was pinned to fp32, lip edges were
    off by up to 166 levels), and TensorRT's fp16 flag would let any layer, the coordinate
    arithmetic included, run in fp16. The motion graphs are transformers: they take `requested`."""
    return Precision.FP32 if graph == GraphName.DECODER else requested


def tensorrt_profile(
    graph: GraphDef, max_batch: int, samples_for_frames: dict[int, int] | None = None
) -> ProfileShapes:
    """(min, opt, max) input shapes: batch 1..max_batch (twice that for the denoiser, whose
    classifier-free guidance doubles the batch); `samples_for_frames` maps a feature count to
    the audio samples the encoder needs for it."""
    top_batch = 2 * max_batch if graph.name == GraphName.DENOISER else max_batch
    batch = (1, min(8, top_batch), top_batch)
    axes = {
        "batch": batch,
        "tokens": TOKEN_RANGE,
        "audio_frames": tuple(2 * t for t in TOKEN_RANGE),
    }
    if samples_for_frames is not None:
        axes["samples"] = tuple(samples_for_frames[f] for f in FEATURE_FRAME_RANGE)
    profile: dict[str, tuple[Shape, Shape, Shape]] = {}
    for spec in graph.inputs:
        if all(isinstance(d, int) for d in spec.shape):
            continue  # static: needs no profile entry
        low, opt, high = (
            tuple(d if isinstance(d, int) else axes[d][k] for d in spec.shape) for k in range(3)
        )
        profile[spec.name] = (low, opt, high)
    return profile
