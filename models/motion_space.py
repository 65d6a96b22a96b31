"""The motion space: the contract between the motion model and the decoder.

One motion frame is a vector of `MOTION_DIM` float32 values, in the order of `FIELDS`:
head pose first, then ARKit-named expression coefficients, then gaze.

Pose conventions (image coordinates: x right, y down, z away from the camera):
- `yaw` (rad): positive turns the face towards image right (the nose tip moves +x).
- `pitch` (rad): positive nods the face down (the nose tip moves +y).
- `roll` (rad): positive tilts the head clockwise in the image.
- `tx`, `ty`: head translation as a fraction of the 512 px crop width (+x right, +y down).
- `scale`: log of the face width relative to 0.4 of the crop width (about as prepared);
  positive brings the head closer.

Expression coefficients follow ARKit semantics in [0, 1], 0 = neutral. "Left"/"Right" are the
subject's own sides (a non-mirrored photo shows the subject's left eye on the image right).
Gaze `eyeLookX` / `eyeLookY` are in [-1, 1]: +x looks towards image right, +y looks down.

Bump `MOTION_SPACE_VERSION` whenever the list, order, ranges or meaning changes; checkpoints and
prepared avatars record it and refuse to load across versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOTION_SPACE_VERSION = 1
MOTION_RATE_HZ = 25


@dataclass(frozen=True)
class Field:
    name: str
    low: float
    high: float
    neutral: float
    group: str  # "pose", "mouth", "brow", "cheek", "eye", "gaze"


POSE_FIELDS: tuple[Field, ...] = (
    # Talking-head ranges: a 2-D warp of one photo cannot show more of the head than it has.
    Field("yaw", -0.45, 0.45, 0.0, "pose"),
    Field("pitch", -0.35, 0.35, 0.0, "pose"),
    Field("roll", -0.35, 0.35, 0.0, "pose"),
    Field("tx", -0.1, 0.1, 0.0, "pose"),
    Field("ty", -0.1, 0.1, 0.0, "pose"),
    Field("scale", -0.25, 0.25, 0.0, "pose"),
)

_EXPRESSION_NAMES: tuple[tuple[str, str], ...] = (
    ("jawOpen", "mouth"),
    ("mouthClose", "mouth"),
    ("mouthFunnel", "mouth"),
    ("mouthPucker", "mouth"),
    ("mouthStretchLeft", "mouth"),
    ("mouthStretchRight", "mouth"),
    ("mouthSmileLeft", "mouth"),
    ("mouthSmileRight", "mouth"),
    ("mouthFrownLeft", "mouth"),
    ("mouthFrownRight", "mouth"),
    ("mouthUpperUpLeft", "mouth"),
    ("mouthUpperUpRight", "mouth"),
    ("mouthLowerDownLeft", "mouth"),
    ("mouthLowerDownRight", "mouth"),
    ("mouthPressLeft", "mouth"),
    ("mouthPressRight", "mouth"),
    ("browInnerUp", "brow"),
    ("browDownLeft", "brow"),
    ("browDownRight", "brow"),
    ("browOuterUpLeft", "brow"),
    ("browOuterUpRight", "brow"),
    ("cheekSquintLeft", "cheek"),
    ("cheekSquintRight", "cheek"),
    ("eyeBlinkLeft", "eye"),
    ("eyeBlinkRight", "eye"),
    ("eyeWideLeft", "eye"),
    ("eyeWideRight", "eye"),
)

EXPRESSION_FIELDS: tuple[Field, ...] = tuple(
    Field(name, 0.0, 1.0, 0.0, group) for name, group in _EXPRESSION_NAMES
)

GAZE_FIELDS: tuple[Field, ...] = (
    Field("eyeLookX", -1.0, 1.0, 0.0, "gaze"),
    Field("eyeLookY", -1.0, 1.0, 0.0, "gaze"),
)

FIELDS: tuple[Field, ...] = POSE_FIELDS + EXPRESSION_FIELDS + GAZE_FIELDS
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
INDEX: dict[str, int] = {name: i for i, name in enumerate(FIELD_NAMES)}

MOTION_DIM = len(FIELDS)
POSE_SLICE = slice(0, len(POSE_FIELDS))
EXPRESSION_SLICE = slice(len(POSE_FIELDS), len(POSE_FIELDS) + len(EXPRESSION_FIELDS))
GAZE_SLICE = slice(EXPRESSION_SLICE.stop, MOTION_DIM)
# Everything the decoder deforms non-rigidly: expression coefficients followed by gaze.
NONRIGID_SLICE = slice(EXPRESSION_SLICE.start, MOTION_DIM)
NONRIGID_NAMES: tuple[str, ...] = FIELD_NAMES[NONRIGID_SLICE]

LOW = np.array([f.low for f in FIELDS], dtype=np.float32)
HIGH = np.array([f.high for f in FIELDS], dtype=np.float32)
NEUTRAL = np.array([f.neutral for f in FIELDS], dtype=np.float32)


class UnknownMotionField(KeyError):
    """A motion field name that is not part of this motion-space version."""


def field(name: str) -> Field:
    try:
        return FIELDS[INDEX[name]]
    except KeyError:
        raise UnknownMotionField(
            f"unknown motion field {name!r}; known fields: {', '.join(FIELD_NAMES)}"
        ) from None


def neutral_frame() -> np.ndarray:
    """A (MOTION_DIM,) float32 frame with every field at its neutral value."""
    return NEUTRAL.copy()


def clip(motion: np.ndarray) -> np.ndarray:
    """Clip (..., MOTION_DIM) motion to each field's range."""
    return np.clip(motion, LOW, HIGH).astype(np.float32)


def with_fields(motion: np.ndarray, **values: float) -> np.ndarray:
    """Return a copy of one (MOTION_DIM,) frame with the named fields set."""
    out = np.array(motion, dtype=np.float32, copy=True)
    for name, value in values.items():
        field(name)
        out[INDEX[name]] = value
    return out


def to_dict(motion: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in zip(FIELD_NAMES, motion, strict=True)}


# Emotion labels the motion model is conditioned on (control, not part of a motion frame).
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprised")
