"""The one interface every inference backend implements: `io_spec()` and `run(inputs) -> outputs`.

A backend is one exported graph (audio encoder, motion denoiser or decoder) loaded on one runtime.
Inputs that stay fixed for the backend's lifetime (a decoder's avatar tensors) are bound once at
construction, where the runtime copies them to its device; `io_spec()` lists only the inputs a call
supplies. Arrays cross the interface as numpy on the host; the device buffers behind them are
allocated once, not per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from engine.errors import EngineError

Arrays = Mapping[str, NDArray[np.generic]]


class BackendName(StrEnum):
    AUTO = "auto"
    TENSORRT = "tensorrt"
    TORCH_CUDA = "torch-cuda"
    ONNXRUNTIME = "onnxruntime"
    TORCH_CPU = "torch-cpu"


class Precision(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"  # TensorRT builder flag; autocast on torch-cuda
    BF16 = "bf16"  # torch-cuda autocast only


class GraphName(StrEnum):
    AUDIO_ENCODER = "audio_encoder"
    DENOISER = "denoiser"
    DECODER = "decoder"


# Where a GPU is present, the first of these that can run is used; on a CPU-only machine auto
# means torch-cpu (the measured default, DESIGN.md "Hard facts"), except for the live engine's
# motion denoiser, which onnxruntime runs faster there (engine/backends/motion.py).
GPU_FALLBACK_ORDER = (
    BackendName.TENSORRT,
    BackendName.TORCH_CUDA,
    BackendName.ONNXRUNTIME,
    BackendName.TORCH_CPU,
)
CPU_FALLBACK_ORDER = (BackendName.TORCH_CPU, BackendName.ONNXRUNTIME)


@dataclass(frozen=True)
class BackendConfig:
    """How graphs are run in this process; the server builds one from its settings."""

    backend: BackendName = BackendName.AUTO
    artifacts_dir: Path | None = None  # what `gioconda export` wrote (ONNX graphs, engines)
    precision: Precision = Precision.FP32
    max_batch: int = 8  # TensorRT optimisation profiles cover batch 1..max_batch
    # onnxruntime's CPU threads (one is faster on the 1-core machines); torch keeps the process's
    # torch.set_num_threads, which commands and the server set once.
    threads: int = 1
    device_index: int = 0
    build_missing_engines: bool = False  # STYLE 8: the runtime loads; export builds
    # One decoder call for frames of different avatars (their tensors stacked per frame) on the
    # torch backends. None: only where the decoder runs on CUDA; on a CPU, stacking copies
    # ~15 MB per frame and batching does not pay (docs/benchmarks.md).
    stack_avatars: bool | None = None


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]  # a str is a named dynamic axis, e.g. "batch"
    dtype: str  # numpy dtype name: "float32", "uint8", "int64"


@dataclass(frozen=True)
class IOSpec:
    inputs: tuple[TensorSpec, ...]  # the inputs a call supplies (bound ones excluded)
    outputs: tuple[TensorSpec, ...]

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.outputs)


class Backend(Protocol):
    name: BackendName

    def io_spec(self) -> IOSpec: ...

    def run(self, inputs: Arrays) -> dict[str, NDArray[np.generic]]: ...


class BackendError(EngineError):
    """A backend that cannot run here (runtime missing, no exported graph, no GPU)."""

    reason = "backend_unavailable"


def check_inputs(spec: IOSpec, inputs: Arrays) -> None:
    """Refuse missing or unexpected input names with a clear message."""
    expected, given = set(spec.input_names), set(inputs)
    if expected != given:
        raise BackendError(
            f"inputs {sorted(given)} do not match the graph's {sorted(expected)}",
            reason="bad_inputs",
        )
