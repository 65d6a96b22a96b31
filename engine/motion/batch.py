"""Sliding-window motion whose windows are sampled in one batch across several streams.

`engine.motion.sampler.MotionStream` splits a window into `window_inputs()` (its starting noise and
condition) and `finish_window()` (smoothing, crossfade, blinks, history). `WindowedMotionStream`
adds what a scheduler needs around that split: taking audio features without sampling, and
asking whether the next window can be sampled. `sample_windows` runs one `ddim_sample` for the
requests of many streams that share a model and a sampling setup. A stream's noise still comes
from its own seeded generator, so with eta = 0 its motion does not depend on who it was batched
with (up to float rounding); with eta > 0 the re-injected noise comes from the first stream's
generator.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from numpy.typing import NDArray

from engine.motion.sampler import MotionStream
from models.diffusion import WindowCondition, ddim_sample
from models.motion_checkpoint import MotionModel
from models.motion_dit import MotionDiT


@dataclass(frozen=True)
class WindowRequest:
    stream: WindowedMotionStream
    noise: torch.Tensor  # (1, N, M)
    condition: WindowCondition  # batch 1

    @property
    def batch_key(self) -> tuple[int, int, int, float, float]:
        stream = self.stream
        return (
            id(stream.model),
            self.noise.shape[1],
            stream.profile.sampling_steps,
            stream.guidance_scale,
            stream.eta,
        )


class WindowedMotionStream(MotionStream):
    @property
    def model(self) -> MotionModel:
        return self._model

    def add_features(self, features: NDArray[np.float32]) -> None:
        """(n, D) new audio features, without sampling (the scheduler samples)."""
        self._features = torch.cat([self._features, torch.from_numpy(features)])
        self._features_received += len(features)

    def window_ready(self) -> bool:
        return self._window_end_feature() <= self._features_received

    def features_needed(self) -> int:
        """Audio features the next window needs (its last lookahead frame's)."""
        return self._window_end_feature()

    def silence_from(self, feature_index: int) -> None:
        """Treat received features from `feature_index` on as silence (after clear())."""
        local = max(0, feature_index - self._feature_offset)
        self._features[local:] = self._silence

    def window_request(self) -> WindowRequest:
        noise, condition = self.window_inputs()
        return WindowRequest(self, noise, condition)


def sample_windows(
    requests: list[WindowRequest], denoiser: MotionDiT | None = None
) -> list[NDArray[np.float32]]:
    """Requests sharing one batch_key -> each stream's (W, M) new frames, in order.

    `denoiser`: what to sample with instead of the streams' model.dit, e.g. the exported
    denoiser on a GPU or onnxruntime (engine/backends/motion.sampling_denoiser); it takes and
    returns host tensors like the DiT.
    """
    first = requests[0].stream
    conditions = [r.condition for r in requests]
    batched = WindowCondition(
        *(torch.cat([getattr(c, f.name) for c in conditions]) for f in fields(WindowCondition))
    )
    noise = torch.cat([r.noise for r in requests])  # (B, N, M)
    windows = ddim_sample(  # (B, N, M)
        denoiser if denoiser is not None else first._model.dit,
        noise,
        batched,
        first.profile.sampling_steps,
        first.guidance_scale,
        first.eta,
        first._generator,
    )
    return [r.stream.finish_window(w) for r, w in zip(requests, windows, strict=True)]
