"""A torch module behind the backend interface: CPU, or CUDA with optional fp16/bf16 autocast."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from engine.backends.base import Arrays, BackendName, IOSpec, Precision, check_inputs

_AUTOCAST_DTYPES = {Precision.FP16: torch.float16, Precision.BF16: torch.bfloat16}


class TorchBackend:
    """`module(*args)`, args in `argument_order`; bound inputs live on the device from the start.

    On CUDA, fp16/bf16 run under autocast rather than casting the inputs: the decoder's pixel
    coordinates (up to 512) would lose sub-pixel precision in fp16, and autocast keeps the
    sampling ops (grid_sample, interpolate) in fp32 while matmuls run in half precision.
    """

    def __init__(
        self,
        module: nn.Module,
        spec: IOSpec,
        argument_order: tuple[str, ...],
        bound: Arrays | None = None,
        device: str = "cpu",
        precision: Precision = Precision.FP32,
    ) -> None:
        self.name = BackendName.TORCH_CUDA if device.startswith("cuda") else BackendName.TORCH_CPU
        self.device = torch.device(device)
        self.precision = precision
        self.module = module.eval().to(self.device)
        self._spec = spec
        self._argument_order = argument_order
        self._bound = {
            name: torch.from_numpy(np.ascontiguousarray(value)).to(self.device)
            for name, value in (bound or {}).items()
        }
        missing = set(argument_order) - set(self._bound) - set(spec.input_names)
        if missing:
            raise ValueError(f"arguments {sorted(missing)} are neither bound nor inputs")

    def io_spec(self) -> IOSpec:
        return self._spec

    @property
    def bound(self) -> Mapping[str, torch.Tensor]:
        """The inputs bound at construction, already on the device."""
        return self._bound

    def run(self, inputs: Arrays) -> dict[str, NDArray[np.generic]]:
        check_inputs(self._spec, inputs)
        given = {
            name: torch.from_numpy(np.ascontiguousarray(value)).to(self.device, non_blocking=True)
            for name, value in inputs.items()
        }
        return self.call({**self._bound, **given})

    @torch.inference_mode()
    def call(self, values: Mapping[str, torch.Tensor]) -> dict[str, NDArray[np.generic]]:
        """The module on device tensors named like its arguments (bound ones included): for
        callers that build the bound inputs themselves, e.g. several avatars stacked."""
        with self._autocast():
            result = self.module(*(values[name] for name in self._argument_order))
        outputs = result if isinstance(result, tuple) else (result,)
        return {
            spec.name: np.asarray(out.float().cpu().numpy() if _is_half(out) else out.cpu().numpy())
            for spec, out in zip(self._spec.outputs, outputs, strict=True)
        }

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        dtype = _AUTOCAST_DTYPES.get(self.precision)
        if dtype is None or self.device.type != "cuda":
            yield
            return
        with torch.autocast(device_type="cuda", dtype=dtype):
            yield


def _is_half(tensor: torch.Tensor) -> bool:
    return tensor.dtype in (torch.float16, torch.bfloat16)
