"""Audio -> motion for a whole clip, and loading the motion model.

Offline generation is the streaming path fed the whole clip (AudioFeatureStream, then
MotionStream), so for a fixed seed it equals streaming by construction.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from engine.errors import EngineError
from engine.motion.features import clip_features
from engine.motion.profiles import get_profile
from engine.motion.sampler import MotionControls, MotionStream
from models.motion_checkpoint import CheckpointError, MotionModel, load_inference_checkpoint

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "weights" / "motion_S.pt"


def load_motion_model(path: Path | str | None = None) -> MotionModel:
    """Load an inference checkpoint (default: the committed S model). Cached per path."""
    resolved = Path(path) if path is not None else DEFAULT_WEIGHTS
    return _load_cached(resolved.resolve())


def model_for_timing(path: Path | None) -> tuple[MotionModel, str]:
    """(model, description) for benchmarks. Cost depends on the architecture only, so when the
    committed weights are missing the untrained S preset stands in, and says so; weights the user
    named must load (a missing or bad file is an EngineError)."""
    if path is not None:
        return load_motion_model(path), str(path)
    if not DEFAULT_WEIGHTS.is_file():
        untrained = f"untrained S preset ({DEFAULT_WEIGHTS} not found)"
        return MotionModel.from_preset("S").eval(), untrained
    return load_motion_model(DEFAULT_WEIGHTS), str(DEFAULT_WEIGHTS)


@functools.lru_cache(maxsize=4)
def _load_cached(path: Path) -> MotionModel:
    return load_checkpoint(path)[0]


def load_checkpoint(path: Path) -> tuple[MotionModel, dict[str, Any]]:
    """(model, metadata) of an inference checkpoint; a missing or bad file is an EngineError."""
    if not path.is_file():
        raise EngineError(f"motion model weights not found: {path}", reason="missing_weights")
    try:
        return load_inference_checkpoint(path)
    except CheckpointError as exc:
        raise EngineError(str(exc), reason="bad_weights") from exc


def window_frames(profile: str = "low-latency") -> int:
    """W of a profile: motion frames emitted per sampler call."""
    return get_profile(profile).window_frames


def generate_motion(
    audio_16k: npt.NDArray[np.float32],
    *,
    seed: int = 0,
    emotion: str = "neutral",
    emotion_intensity: float = 0.0,
    gaze: tuple[float, float] | None = (0.0, 0.0),
    head_distance: float | None = 0.0,
    profile: str = "low-latency",
    guidance_scale: float | None = None,
    eta: float | None = None,
    model: MotionModel | None = None,
) -> npt.NDArray[np.float32]:
    """(S,) float32 16 kHz audio -> (ceil(S / 640), MOTION_DIM) float32 motion at 25 Hz.

    guidance_scale / eta None use the profile's; gaze / head_distance None leave them to the model.
    """
    torch.set_num_threads(1)
    model = model if model is not None else load_motion_model()
    audio = np.asarray(audio_16k, dtype=np.float32)
    features = clip_features(model.log_mel, model.encoder, audio)  # (2T, D)
    controls = MotionControls(emotion, emotion_intensity, gaze, head_distance)
    stream = MotionStream(model, get_profile(profile), controls, seed, guidance_scale, eta)
    return np.concatenate([stream.push_features(features), stream.flush()])
