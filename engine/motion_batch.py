"""Sliding-window motion whose windows are sampled in one batch across several streams.

`WindowedMotionStream` is `engine.motion_stream.MotionStream` with its window step split in two:
`window_request()` (the window's starting noise and condition) and `finish_window()` (keep the W
new frames as history). `sample_windows` runs one `ddim_sample` for the requests of many streams
that share a model and a sampling setup. A stream's noise still comes from its own seeded
generator, so with eta = 0 a stream's motion does not depend on who it was batched with (up to
float rounding); with eta > 0 the re-injected noise comes from the first stream's generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from engine.motion_stream import MotionStream
from models import motion_space
from models.diffusion import WindowCondition, ddim_sample
from models.motion_dit import window_positions


@dataclass(frozen=True)
class WindowRequest:
    stream: WindowedMotionStream
    noise: torch.Tensor  # (1, N, M)
    condition: WindowCondition  # batch 1

    @property
    def batch_key(self) -> tuple[int, int, int, float, float]:
        p = self.stream.profile
        return (
            id(self.stream.model),
            self.noise.shape[1],
            p.sampling_steps,
            self.stream.guidance_scale,
            self.stream.eta,
        )


class WindowedMotionStream(MotionStream):
    @property
    def model(self) -> object:
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
        p = self.profile
        tokens = p.context_frames + p.window_frames + p.lookahead_frames
        context = torch.zeros(1, tokens, motion_space.MOTION_DIM)  # (1, N, M)
        context[0, : p.context_frames] = self._history
        known = torch.zeros(1, tokens, 1)  # (1, N, 1)
        known[0, : p.context_frames] = 1.0
        condition = WindowCondition(
            context_motion=context,
            known=known,
            audio_features=self._window_features()[None],  # (1, 2N, D)
            audio_keep=torch.ones(1, 1),
            controls=self._controls,
            control_keep=self._control_keep,
            positions=window_positions(p.context_frames, tokens)[None],  # (1, N)
        )
        noise = torch.randn(1, tokens, motion_space.MOTION_DIM, generator=self._generator)
        return WindowRequest(self, noise, condition)

    def finish_window(self, window: torch.Tensor) -> NDArray[np.float32]:
        """(N, M) normalized sampled window -> (W, M) new motion frames, kept as history."""
        p = self.profile
        dit = self._model.dit
        new = self._new_frames(window[p.context_frames :])  # (W, M)
        frames = motion_space.clip(dit.denormalize(new).numpy())  # (W, M)
        clipped = dit.normalize(torch.from_numpy(frames))  # (W, M)
        self._history = torch.cat([self._history, clipped])[-p.context_frames :]  # (P, M)
        self.frames_emitted += p.window_frames
        self._drop_old_features()
        return frames

    def _new_frames(self, predicted: torch.Tensor) -> torch.Tensor:
        """(W + L, M) -> (W, M) the window's new frames, cross-faded into the previous window's
        lookahead where the sampler does that (MotionStream._crossfade), as in _window()."""
        crossfade = getattr(self, "_crossfade", None)
        if crossfade is not None:
            faded: torch.Tensor = crossfade(predicted)
            return faded
        return predicted[: self.profile.window_frames]


def sample_windows(requests: list[WindowRequest]) -> list[NDArray[np.float32]]:
    """Requests sharing one batch_key -> each stream's (W, M) new frames, in order."""
    first = requests[0].stream
    conditions = [r.condition for r in requests]
    batched = WindowCondition(
        *(
            torch.cat([getattr(c, name) for c in conditions])
            for name in WindowCondition.__dataclass_fields__
        )
    )
    noise = torch.cat([r.noise for r in requests])  # (B, N, M)
    windows = ddim_sample(  # (B, N, M)
        first._model.dit,
        noise,
        batched,
        first.profile.sampling_steps,
        first.guidance_scale,
        first.eta,
        first._generator,
    )
    return [r.stream.finish_window(w) for r, w in zip(requests, windows, strict=True)]
