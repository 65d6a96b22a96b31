"""Inference backends behind one interface (`io_spec()`, `run(inputs) -> outputs`): torch (CPU,
CUDA), onnxruntime (CPU; CUDA where onnxruntime-gpu is installed) and TensorRT. DESIGN.md,
"Backends"; the fallback order is in engine/backends/select.py."""

from engine.backends.base import (
    Backend,
    BackendConfig,
    BackendError,
    BackendName,
    GraphName,
    IOSpec,
    Precision,
    TensorSpec,
)

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendError",
    "BackendName",
    "GraphName",
    "IOSpec",
    "Precision",
    "TensorSpec",
]
