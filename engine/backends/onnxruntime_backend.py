"""Run an exported ONNX graph in onnxruntime behind the backend interface.

CPU by default; the CUDA execution provider is used where onnxruntime-gpu is installed and
`use_cuda` is set. Bound inputs become OrtValues once (on the GPU for CUDA) and stay bound in one
IOBinding; a call binds only its own inputs.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from engine.backends.base import Arrays, BackendName, IOSpec, TensorSpec, check_inputs

log = logging.getLogger(__name__)

_ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(uint8)": "uint8",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
}


def cuda_provider_available() -> bool:
    return "CUDAExecutionProvider" in ort.get_available_providers()


def _spec(arg: ort.NodeArg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else str(d) for d in arg.shape)
    return TensorSpec(arg.name, shape, _ORT_DTYPES.get(arg.type, arg.type))


class OnnxRuntimeBackend:
    def __init__(
        self,
        model_path: Path,
        bound: Arrays | None = None,
        threads: int = 1,
        use_cuda: bool = False,
        device_index: int = 0,
    ) -> None:
        self.name = BackendName.ONNXRUNTIME
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.device = "cuda" if use_cuda and cuda_provider_available() else "cpu"
        providers: list[str | tuple[str, dict[str, str]]] = ["CPUExecutionProvider"]
        if self.device == "cuda":
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": str(device_index)}))
        self.session = ort.InferenceSession(str(model_path), options, providers=providers)
        log.debug("%s: onnxruntime providers %s", model_path, self.session.get_providers())
        bound = dict(bound or {})
        unknown = set(bound) - {arg.name for arg in self.session.get_inputs()}
        if unknown:
            raise ValueError(f"{model_path} has no inputs named {sorted(unknown)}")
        self._spec = IOSpec(
            inputs=tuple(_spec(a) for a in self.session.get_inputs() if a.name not in bound),
            outputs=tuple(_spec(a) for a in self.session.get_outputs()),
        )
        self._device_index = device_index
        self._binding = self.session.io_binding()
        self._lock = threading.Lock()  # one binding: calls from two threads take turns
        # Kept referenced: the binding points at their memory.
        self._bound_values = {
            name: ort.OrtValue.ortvalue_from_numpy(
                np.ascontiguousarray(value), self.device, device_index
            )
            for name, value in bound.items()
        }
        for name, value in self._bound_values.items():
            self._binding.bind_ortvalue_input(name, value)

    def io_spec(self) -> IOSpec:
        return self._spec

    def run(self, inputs: Arrays) -> dict[str, NDArray[np.generic]]:
        check_inputs(self._spec, inputs)
        with self._lock:
            for name, value in inputs.items():
                self._binding.bind_cpu_input(name, np.ascontiguousarray(value))
            for name in self._spec.output_names:
                self._binding.bind_output(name, self.device, self._device_index)
            self.session.run_with_iobinding(self._binding)
            outputs = self._binding.copy_outputs_to_cpu()
        return {
            name: np.asarray(value)
            for name, value in zip(self._spec.output_names, outputs, strict=True)
        }
