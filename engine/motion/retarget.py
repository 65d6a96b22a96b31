"""Generated motion onto one portrait, and 25 Hz motion onto the video clock.

Retargeting: the motion model speaks about a neutral head. Pose fields are offsets added to the
portrait's own pose (generated minus neutral), so a portrait turned 10 degrees keeps its turn and
nods around it. Expressions and gaze are absolute: an open-mouthed photo is driven closed in
silence, and a grinning portrait's grin is replaced by the generated face's smile (the renderer
moves each field by generated minus portrait). The result is clipped to the motion space's ranges.

How the portrait's expression and a requested emotion combine (issue 17): the model's emotion
control alone showed too little (happy and sad 0.018 inter-ocular distances apart at intensity
0.8), so the requested emotion at intensity k is also enforced here: each of its fields is at
least k x its full-strength value (EMOTION_SHOWN: the synthetic corpus's offsets, sad's frown
deeper), and the fields that contradict it are scaled by (1 - k) (sad: the smile and cheek
squint; happy: the frown and lowered brows). Since the fields are absolute, a smiling portrait
told to be sad is driven towards no smile plus the frown (the renderer's warp lowers a painted
grin's corners but cannot erase it); told to be happy it keeps at least the happy smile. At
k = 0 nothing changes.

Video clock: motion frame m covers [m, m + 1) / 25 s and is placed at its centre; video frame k
covers [k, k + 1) / fps and samples the motion at its centre. Every field, angles included, is
interpolated linearly: head angles stay within +-0.45 rad, where linear in angle is as good as
slerp for a single-axis-dominated pose.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from models import motion_space as ms
from models.synth.expression import EMOTION_OFFSETS

_SMILE = ("mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight")
_FROWN = ("mouthFrownLeft", "mouthFrownRight")
_BROWS_DOWN = ("browDownLeft", "browDownRight")
# What each emotion shows at intensity 1: the synthetic corpus's offsets, with a deeper frown for
# sad (the rig lowers a corner 0.08 mouth widths per unit of frown against 0.12 per unit of smile
# lift, and rendered sad faces at 0.55 still read as smiling on smiling portraits).
EMOTION_SHOWN: dict[str, dict[str, float]] = {
    emotion: {**offsets, **({"mouthFrownLeft": 1.0, "mouthFrownRight": 1.0}
                            if emotion == "sad" else {})}
    for emotion, offsets in EMOTION_OFFSETS.items()
}  # fmt: skip
OPPOSED_FIELDS: dict[str, tuple[str, ...]] = {
    "neutral": (),
    "happy": _FROWN + _BROWS_DOWN,
    "sad": _SMILE,
    "angry": _SMILE,
    "surprised": _BROWS_DOWN + _FROWN,
}


def retarget(
    generated: NDArray[np.float32],
    source_motion: NDArray[np.float32],
    emotion: str = "neutral",
    emotion_intensity: float = 0.0,
) -> NDArray[np.float32]:
    """(T, MOTION_DIM) model motion -> (T, MOTION_DIM) motion for the portrait, showing
    `emotion` at `emotion_intensity` at least (see the module docstring)."""
    out = np.array(generated, dtype=np.float32, copy=True)
    offset = generated[:, ms.POSE_SLICE] - ms.NEUTRAL[ms.POSE_SLICE]  # (T, 6)
    out[:, ms.POSE_SLICE] = source_motion[ms.POSE_SLICE] + offset
    return ms.clip(show_emotion(out, emotion, emotion_intensity))


def show_emotion(
    motion: NDArray[np.float32], emotion: str, intensity: float
) -> NDArray[np.float32]:
    """Floor the emotion's fields at intensity x their full offset; scale the opposing fields
    by (1 - intensity). Unknown emotions and intensity 0 leave the motion as it is."""
    k = float(np.clip(intensity, 0.0, 1.0))
    if k == 0.0 or emotion not in EMOTION_SHOWN:
        return motion
    out = motion.copy()
    for name, full in EMOTION_SHOWN[emotion].items():
        if name == "jawOpen":
            continue  # the mouth's opening belongs to the speech
        column = ms.INDEX[name]
        out[:, column] = np.maximum(out[:, column], k * full)
    for name in OPPOSED_FIELDS[emotion]:
        out[:, ms.INDEX[name]] *= 1.0 - k
    return out


def motion_position(frame_index: int, fps: int) -> float:
    """Video frame k -> its centre in 25 Hz motion frames (motion frame m's centre is m)."""
    return (frame_index + 0.5) * ms.MOTION_RATE_HZ / fps - 0.5


def motion_frames_needed(frame_index: int, fps: int) -> int:
    """How many motion frames must exist (from 0) to interpolate video frame k."""
    return max(0, math.floor(motion_position(frame_index, fps))) + 2


def interpolate(
    motion: NDArray[np.float32], first_index: int, frame_index: int, fps: int
) -> NDArray[np.float32]:
    """Motion at video frame k from a buffer whose row 0 is motion frame `first_index`.

    Before motion frame 0 (the first half motion frame) the first frame is held."""
    position = max(0.0, motion_position(frame_index, fps))
    low = math.floor(position)
    weight = np.float32(position - low)
    row = low - first_index
    if row < 0 or row + 1 >= len(motion):
        raise IndexError(f"motion frames {low}, {low + 1} are not buffered (from {first_index})")
    blended: NDArray[np.float32] = (1.0 - weight) * motion[row] + weight * motion[row + 1]
    return blended.astype(np.float32)
