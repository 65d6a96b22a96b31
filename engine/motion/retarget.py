"""Generated motion onto one portrait, and 25 Hz motion onto the video clock.

Retargeting: the motion model speaks about a neutral head. Pose fields are offsets added to the
portrait's own pose (generated minus neutral), so a portrait turned 10 degrees keeps its turn and
nods around it. Expressions and gaze are absolute: an open-mouthed photo is driven closed in
silence. The result is clipped to the motion space's ranges.

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


def retarget(
    generated: NDArray[np.float32], source_motion: NDArray[np.float32]
) -> NDArray[np.float32]:
    """(T, MOTION_DIM) model motion -> (T, MOTION_DIM) motion for the portrait."""
    out = np.array(generated, dtype=np.float32, copy=True)
    offset = generated[:, ms.POSE_SLICE] - ms.NEUTRAL[ms.POSE_SLICE]  # (T, 6)
    out[:, ms.POSE_SLICE] = source_motion[ms.POSE_SLICE] + offset
    return ms.clip(out)


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
