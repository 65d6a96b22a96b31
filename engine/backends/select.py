"""Choose and open the backend for one graph, following the stated fallback order.

`auto` on a machine with a CUDA device tries tensorrt -> torch-cuda -> onnxruntime -> torch-cpu;
on a CPU-only machine it means torch-cpu. A named backend that cannot run here falls through
the same order from its position (unless `strict`), and one log line says which backend runs
and why the ones before it were skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from engine.backends.base import (
    GPU_FALLBACK_ORDER,
    Arrays,
    Backend,
    BackendConfig,
    BackendError,
    BackendName,
    IOSpec,
)
from engine.backends.graphs import GraphDef, engine_precision
from engine.backends.tensorrt_backend import ProfileShapes, engine_cache_key, import_tensorrt

log = logging.getLogger(__name__)

ENGINES_SUBDIR = "engines"
_ANNOUNCED: set[str] = set()


def candidates(requested: BackendName, cuda: bool | None = None) -> tuple[BackendName, ...]:
    """Backends to try, in order, for a requested name."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if requested == BackendName.AUTO:
        return GPU_FALLBACK_ORDER if cuda else (BackendName.TORCH_CPU,)
    return GPU_FALLBACK_ORDER[GPU_FALLBACK_ORDER.index(requested) :]


def open_backend(
    graph: GraphDef,
    config: BackendConfig,
    torch_module: Callable[[], nn.Module],
    bound: Arrays | None = None,
    profile: ProfileShapes | None = None,
    strict: bool = False,
) -> Backend:
    """The first backend of the fallback order that opens for `graph`.

    torch_module builds the reference module (only called for the torch backends); `bound` are
    inputs fixed for the backend's lifetime; `profile` the TensorRT shape ranges for a build.
    """
    order = (config.backend,) if strict else candidates(config.backend)
    skipped: list[str] = []
    for name in order:
        try:
            backend = _open(name, graph, config, torch_module, bound or {}, profile)
        except BackendError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        note = f" (skipped {'; '.join(skipped)})" if skipped else ""
        device = getattr(backend, "device", None)  # cpu / cuda:0; onnxruntime picks a provider
        message = f"{graph.name} runs on {backend.name} ({device}){note}"
        # Once per distinct choice at INFO: a renderer is opened per avatar and session.
        log.log(logging.DEBUG if message in _ANNOUNCED else logging.INFO, message)
        _ANNOUNCED.add(message)
        return backend
    raise BackendError(f"no backend can run {graph.name}: {'; '.join(skipped)}")


def _open(
    name: BackendName,
    graph: GraphDef,
    config: BackendConfig,
    torch_module: Callable[[], nn.Module],
    bound: Arrays,
    profile: ProfileShapes | None,
) -> Backend:
    if name in (BackendName.TORCH_CPU, BackendName.TORCH_CUDA):
        return _open_torch(name, graph, config, torch_module, bound)
    onnx_path = _exported(graph, config)
    if name == BackendName.ONNXRUNTIME:
        from engine.backends.onnxruntime_backend import OnnxRuntimeBackend

        use_cuda = torch.cuda.is_available()
        return OnnxRuntimeBackend(onnx_path, bound, config.threads, use_cuda, config.device_index)
    if name == BackendName.TENSORRT:
        from engine.backends.tensorrt_backend import TensorRTBackend

        plan = engine_path(graph, onnx_path, config, profile)
        return TensorRTBackend(plan, bound, config.device_index)
    raise BackendError(f"unknown backend {name!r}")


def _open_torch(
    name: BackendName,
    graph: GraphDef,
    config: BackendConfig,
    torch_module: Callable[[], nn.Module],
    bound: Arrays,
) -> Backend:
    device = "cpu"
    if name == BackendName.TORCH_CUDA:
        if not torch.cuda.is_available():
            raise BackendError("torch sees no CUDA device")
        device = f"cuda:{config.device_index}"
    from engine.backends.torch_backend import TorchBackend

    free = tuple(spec for spec in graph.inputs if spec.name not in bound)
    spec = IOSpec(inputs=free, outputs=graph.outputs)
    return TorchBackend(torch_module(), spec, graph.input_names, bound, device, config.precision)


def _exported(graph: GraphDef, config: BackendConfig) -> Path:
    if config.artifacts_dir is None:
        raise BackendError("no export folder configured (run `gioconda export --out DIR`)")
    path = config.artifacts_dir / graph.onnx_file
    if not path.is_file():
        raise BackendError(f"{path} not found (run `gioconda export --out {config.artifacts_dir}`)")
    return path


def onnx_metadata(path: Path) -> dict[str, str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {prop.key: prop.value for prop in model.metadata_props}


def engine_path(
    graph: GraphDef,
    onnx_path: Path,
    config: BackendConfig,
    profile: ProfileShapes | None,
) -> Path:
    """The cached engine for this graph, GPU and TensorRT version; built here only if allowed."""
    import_tensorrt()
    if profile is None:
        raise BackendError(f"no TensorRT shape profile given for {graph.name}")
    source_hash = onnx_metadata(onnx_path).get("source_hash", "")
    precision = engine_precision(graph.name, config.precision)
    key = engine_cache_key(source_hash, precision, profile, config.device_index)
    assert config.artifacts_dir is not None  # _exported checked it
    plan = config.artifacts_dir / ENGINES_SUBDIR / f"{graph.name}-{key}.plan"
    if plan.is_file():
        log.info("%s: cached TensorRT engine %s", graph.name, plan)
        return plan
    if not config.build_missing_engines:
        raise BackendError(
            f"no TensorRT engine for this GPU and TensorRT version at {plan} "
            f"(run `gioconda export --format tensorrt --out {config.artifacts_dir}`)"
        )
    from engine.backends.tensorrt_backend import build_engine

    log.info(
        "%s: building %s TensorRT engine %s (once per model, GPU and version)",
        graph.name,
        precision,
        plan,
    )
    return build_engine(onnx_path, plan, precision, profile)
