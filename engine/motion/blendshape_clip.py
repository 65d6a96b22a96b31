"""A whole audio file -> its ARKit blendshape track, with no portrait and no video.

The motion is engine.motion.clip's (the streaming sampler fed the whole clip at 25 Hz),
resampled to the asked rate by engine.motion.blendshapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr

from engine.contract import Controls
from engine.errors import AudioError
from engine.motion.blendshapes import BlendshapeTrack, check_rate
from engine.motion.clip import generate_motion
from engine.stream.audio_input import read_audio_file
from engine.stream.options import validate_controls
from models import motion_space as ms
from models.motion_checkpoint import MotionModel

MODEL_RATE_HZ = 16_000


def clip_blendshapes(
    audio_path: Path,
    rate_hz: int,
    *,
    controls: Controls | None = None,
    profile: str = "quality",
    seed: int = 0,
    model: MotionModel | None = None,
) -> BlendshapeTrack:
    """The blendshape track of `audio_path` at rate_hz, as long as the audio."""
    check_rate(rate_hz)
    controls = controls or Controls()
    validate_controls(controls)
    audio, source_rate_hz = read_audio_file(audio_path)  # (S, C)
    if len(audio) == 0:
        raise AudioError(f"{audio_path}: the file holds no audio", "empty_audio")
    mono = audio.mean(axis=1)
    if source_rate_hz != MODEL_RATE_HZ:
        mono = soxr.resample(mono, source_rate_hz, MODEL_RATE_HZ)
    mono = np.clip(mono, -1.0, 1.0).astype(np.float32)
    motion = generate_motion(
        mono,
        seed=seed,
        emotion=controls.emotion,
        emotion_intensity=controls.emotion_intensity,
        gaze=(controls.gaze_x, controls.gaze_y),
        head_distance=controls.head_distance,
        profile=profile,
        guidance_scale=controls.audio_guidance,
        model=model,
    )  # (T, MOTION_DIM) at 25 Hz
    duration_s = len(mono) / MODEL_RATE_HZ
    return BlendshapeTrack.from_motion(motion, ms.MOTION_RATE_HZ, rate_hz, duration_s)
