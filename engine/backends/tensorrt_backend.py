"""TensorRT: build engines from the ONNX export (offline) and run them behind the backend API.

Written against NVIDIA's Python API (`tensorrt` 10.x: named I/O tensors, `execute_async_v3`) with
torch.cuda tensors as device buffers. Every I/O tensor gets one flat device buffer sized for the
largest shape of the optimisation profile, allocated at construction; bound inputs are copied
into theirs once. A call copies its inputs host -> device, enqueues the engine and copies the
outputs back on one CUDA stream, then synchronises once: no host round trip inside the step.

Engines are cached by (source hash of the ONNX graph, GPU name, TensorRT version, precision,
profile shapes), so a second start loads the plan instead of rebuilding it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from engine.backends.base import (
    Arrays,
    BackendError,
    BackendName,
    IOSpec,
    Precision,
    TensorSpec,
    check_inputs,
)

log = logging.getLogger(__name__)

Shape = tuple[int, ...]
# input name -> (min, opt, max) shapes of the one optimisation profile
ProfileShapes = Mapping[str, tuple[Shape, Shape, Shape]]


def import_tensorrt() -> Any:
    """The `tensorrt` module, or BackendError saying why it cannot be used here."""
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(f"tensorrt is not installed ({exc})") from exc
    if not torch.cuda.is_available():
        raise BackendError("tensorrt needs a CUDA device; torch sees none")
    return tensorrt


def engine_cache_key(
    source_hash: str, precision: Precision, profile: ProfileShapes, device_index: int = 0
) -> str:
    """Key of a built engine: model hash + GPU name + TensorRT version + build settings."""
    trt = import_tensorrt()
    identity = {
        "source": source_hash,
        "gpu": torch.cuda.get_device_name(device_index),
        "tensorrt": trt.__version__,
        "precision": str(precision),
        "profile": {name: [list(s) for s in shapes] for name, shapes in sorted(profile.items())},
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def reduced_precision_flag(trt: Any, precision: Precision) -> Any:
    """The TensorRT 10 builder flag for fp16/bf16. TensorRT 11 removed these flags (networks are
    strongly typed; reduced precision must be in the ONNX graph), which export does not do."""
    flag = getattr(trt.BuilderFlag, precision.name, None)  # FP16 / BF16
    if flag is None:
        raise BackendError(
            f"TensorRT {trt.__version__} has no {precision.name} builder flag (strongly typed "
            f"networks only): build with --precision fp32, or use TensorRT 10",
            reason="engine_build",
        )
    return flag


def build_engine(
    onnx_path: Path,
    plan_path: Path,
    precision: Precision,
    profile: ProfileShapes,
    workspace_bytes: int = 4 << 30,
) -> Path:
    """Parse `onnx_path`, build a serialized engine with one optimisation profile, write it."""
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # implicit in TensorRT 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {onnx_path}: {errors}", reason="engine_build")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if precision != Precision.FP32:
        config.set_flag(reduced_precision_flag(trt, precision))
    optimisation_profile = builder.create_optimization_profile()
    for name, (low, opt, high) in profile.items():
        optimisation_profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(optimisation_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT failed to build {onnx_path}", reason="engine_build")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = plan_path.with_suffix(".tmp")
    tmp.write_bytes(bytes(serialized))
    tmp.replace(plan_path)
    return plan_path


def _torch_dtype(trt: Any, dtype: Any) -> torch.dtype:
    table = {
        trt.float32: torch.float32,
        trt.float16: torch.float16,
        trt.int32: torch.int32,
        trt.int64: torch.int64,
        trt.uint8: torch.uint8,
        trt.bool: torch.bool,
    }
    return table[dtype]


class _EngineRuntime:
    """One deserialized engine, its execution context, stream and max-size buffers (shared)."""

    def __init__(self, plan_path: Path, device_index: int) -> None:
        trt = import_tensorrt()
        self.device = torch.device("cuda", device_index)
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(
            plan_path.read_bytes()
        )
        if self.engine is None:
            raise BackendError(f"cannot load TensorRT engine {plan_path}", reason="engine_load")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream(device=self.device)
        self.lock = threading.Lock()
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.buffers: dict[str, torch.Tensor] = {}
        self.specs: dict[str, TensorSpec] = {}
        self.max_shapes: dict[str, Shape] = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs).append(name)
            dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(name))
            shape = tuple(self.engine.get_tensor_shape(name))
            if is_input and any(d < 0 for d in shape):
                max_shape = tuple(self.engine.get_tensor_profile_shape(name, 0)[2])
            else:  # static; an output's largest shape is read once inputs are at their largest
                max_shape = shape
            self.max_shapes[name] = max_shape
            self.specs[name] = TensorSpec(
                name,
                tuple(
                    "batch" if d < 0 and k == 0 else (f"dim{k}" if d < 0 else d)
                    for k, d in enumerate(shape)
                ),
                str(dtype).removeprefix("torch."),
            )
        for name in self.inputs:
            self.context.set_input_shape(name, self.max_shapes[name])
        for name in self.outputs:
            self.max_shapes[name] = tuple(self.context.get_tensor_shape(name))
        for name, shape in self.max_shapes.items():
            dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(name))
            self.buffers[name] = torch.empty(int(np.prod(shape)), dtype=dtype, device=self.device)


_RUNTIMES: dict[tuple[Path, int], _EngineRuntime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _runtime(plan_path: Path, device_index: int) -> _EngineRuntime:
    key = (plan_path.resolve(), device_index)
    with _RUNTIMES_LOCK:
        if key not in _RUNTIMES:
            _RUNTIMES[key] = _EngineRuntime(plan_path, device_index)
        return _RUNTIMES[key]


class TensorRTBackend:
    """A built engine bound to fixed inputs; engines, contexts and call buffers are shared per
    plan, bound inputs (one avatar's tensors) get their own device buffers."""

    def __init__(self, plan_path: Path, bound: Arrays | None = None, device_index: int = 0) -> None:
        self.name = BackendName.TENSORRT
        self.device = f"cuda:{device_index}"
        self._rt = _runtime(plan_path, device_index)
        bound = dict(bound or {})
        unknown = set(bound) - set(self._rt.inputs)
        if unknown:
            raise ValueError(f"{plan_path} has no inputs named {sorted(unknown)}")
        self._bound = {
            name: torch.from_numpy(np.ascontiguousarray(value)).to(
                self._rt.device, dtype=self._rt.buffers[name].dtype
            )
            for name, value in bound.items()
        }
        free = [n for n in self._rt.inputs if n not in self._bound]
        self._spec = IOSpec(
            inputs=tuple(self._rt.specs[n] for n in free),
            outputs=tuple(self._rt.specs[n] for n in self._rt.outputs),
        )
        self.max_batch = min(self._rt.max_shapes[n][0] for n in free) if free else 1

    def io_spec(self) -> IOSpec:
        return self._spec

    def run(self, inputs: Arrays) -> dict[str, NDArray[np.generic]]:
        check_inputs(self._spec, inputs)
        batch = len(next(iter(inputs.values())))
        if batch <= self.max_batch:
            return self._run_once(inputs)
        chunks = [
            self._run_once({k: v[i : i + self.max_batch] for k, v in inputs.items()})
            for i in range(0, batch, self.max_batch)
        ]
        return {k: np.concatenate([c[k] for c in chunks]) for k in self._spec.output_names}

    def _run_once(self, inputs: Arrays) -> dict[str, NDArray[np.generic]]:
        rt = self._rt
        with rt.lock, torch.cuda.stream(rt.stream):
            for name, tensor in self._bound.items():
                rt.context.set_input_shape(name, tuple(tensor.shape))
                rt.context.set_tensor_address(name, tensor.data_ptr())
            for name, value in inputs.items():
                host = torch.from_numpy(np.ascontiguousarray(value))
                if host.numel() > rt.buffers[name].numel():
                    raise BackendError(
                        f"{name} {tuple(host.shape)} exceeds the engine's profile "
                        f"(largest {rt.max_shapes[name]}): rebuild with a larger --max-batch",
                        reason="bad_inputs",
                    )
                device_view = rt.buffers[name][: host.numel()].view(host.shape)
                device_view.copy_(host, non_blocking=True)
                rt.context.set_input_shape(name, tuple(host.shape))
                rt.context.set_tensor_address(name, device_view.data_ptr())
            views = {}
            for name in rt.outputs:
                shape = tuple(rt.context.get_tensor_shape(name))
                views[name] = rt.buffers[name][: int(np.prod(shape))].view(shape)
                rt.context.set_tensor_address(name, views[name].data_ptr())
            if not rt.context.execute_async_v3(rt.stream.cuda_stream):
                raise BackendError("TensorRT execution failed", reason="engine_run")
            host_out = {name: view.to("cpu", non_blocking=True) for name, view in views.items()}
            rt.stream.synchronize()
        return {name: np.asarray(t.numpy()) for name, t in host_out.items()}
