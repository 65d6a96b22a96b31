"""Motion frames as an ARKit blendshape stream, for 3D avatars and robots (docs/blendshapes.md).

One row per frame: the 52 ARKit blendshape names in Apple's order (ARFaceAnchor.BlendShapeLocation,
as Live Link Face and Audio2Face export them), then head rotation in degrees and translation, then
the raw gaze. The motion space models 27 of the 52 names directly and the eight eyeLook* names
through its gaze; the other 17 (jawForward, cheekPuff, tongueOut, ...) are present and always 0.

Values are the model's motion about a neutral head (not retargeted onto a portrait's own pose), so
a 3D head with its own rest pose can use them as they are. Pose conventions are the motion space's
(models/motion_space.py): headYaw_deg + turns the face towards image right (the subject's left),
headPitch_deg + nods down, headRoll_deg + tilts clockwise as the camera sees it; headX/headY are
fractions of the frame width (+x right, +y down), headScale_log is the log of the head's apparent
size (+ closer). gazeX/gazeY are in [-1, 1], +x towards image right, +y down.

Rates: frame k of a track at `rate_hz` covers [k, k + 1) / rate_hz seconds; its time column is
the frame's start and its values are the motion at the frame's centre, as video frame k shows.
Resampling interpolates linearly between the source frames' centres, angles included (head angles
stay within 0.45 rad of neutral, where linear in angle is as good as slerp, DESIGN.md).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.contract import OUTPUT_AUDIO_RATE_HZ, OutputFrame
from engine.errors import EngineError
from models import motion_space as ms

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)  # fmt: skip
# Gaze drives these: looking towards image right is outwards for the subject's left eye (which a
# non-mirrored camera shows on the image right) and inwards for the right eye.
GAZE_BLENDSHAPES: tuple[str, ...] = (
    "eyeLookOutLeft", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookUpLeft", "eyeLookUpRight",
)  # fmt: skip
HEAD_COLUMNS: tuple[str, ...] = (
    "headPitch_deg", "headYaw_deg", "headRoll_deg", "headX", "headY", "headScale_log",
)  # fmt: skip
GAZE_COLUMNS: tuple[str, ...] = ("gazeX", "gazeY")
VALUE_COLUMNS: tuple[str, ...] = ARKIT_BLENDSHAPES + HEAD_COLUMNS + GAZE_COLUMNS
TIME_COLUMN = "time_s"
MODELLED: frozenset[str] = frozenset(
    name for name in ARKIT_BLENDSHAPES if name in ms.INDEX or name in GAZE_BLENDSHAPES
)
UNMODELLED: tuple[str, ...] = tuple(n for n in ARKIT_BLENDSHAPES if n not in MODELLED)
EXPORT_RATES_HZ = (25, 30, 40, 50, 60)
FORMATS = (".csv", ".json")

_COLUMN = {name: i for i, name in enumerate(VALUE_COLUMNS)}
_DIRECT = [(_COLUMN[n], ms.INDEX[n]) for n in ARKIT_BLENDSHAPES if n in ms.INDEX]
_POSE = [ms.INDEX[n] for n in ("pitch", "yaw", "roll", "tx", "ty", "scale")]
_DECIMALS = 4


def to_blendshapes(motion: NDArray[np.float32]) -> NDArray[np.float32]:
    """(T, MOTION_DIM) motion frames -> (T, len(VALUE_COLUMNS)) rows in VALUE_COLUMNS order."""
    motion = np.asarray(motion, dtype=np.float32)
    if motion.ndim != 2 or motion.shape[1] != ms.MOTION_DIM:
        raise ValueError(f"motion must be (T, {ms.MOTION_DIM}), got {motion.shape}")
    rows = np.zeros((len(motion), len(VALUE_COLUMNS)), dtype=np.float32)  # (T, V)
    for column, field in _DIRECT:
        rows[:, column] = np.clip(motion[:, field], 0.0, 1.0)
    gaze_x = motion[:, ms.INDEX["eyeLookX"]]  # (T,)
    gaze_y = motion[:, ms.INDEX["eyeLookY"]]  # (T,)
    right, left = np.clip(gaze_x, 0.0, 1.0), np.clip(-gaze_x, 0.0, 1.0)
    down, up = np.clip(gaze_y, 0.0, 1.0), np.clip(-gaze_y, 0.0, 1.0)
    gaze = {
        "eyeLookOutLeft": right, "eyeLookInRight": right,
        "eyeLookInLeft": left, "eyeLookOutRight": left,
        "eyeLookDownLeft": down, "eyeLookDownRight": down,
        "eyeLookUpLeft": up, "eyeLookUpRight": up,
    }  # fmt: skip
    for name, values in gaze.items():
        rows[:, _COLUMN[name]] = values
    head = motion[:, _POSE]  # (T, 6) pitch, yaw, roll (rad), tx, ty, scale
    head[:, :3] = np.degrees(head[:, :3])
    rows[:, _COLUMN["headPitch_deg"] : _COLUMN["headScale_log"] + 1] = head
    rows[:, _COLUMN["gazeX"]] = gaze_x
    rows[:, _COLUMN["gazeY"]] = gaze_y
    return rows


def resample(
    frames: NDArray[np.float32], source_rate_hz: float, rate_hz: float, duration_s: float
) -> NDArray[np.float32]:
    """(T, D) frames at source_rate_hz -> (ceil(duration_s * rate_hz), D) frames at rate_hz.

    Each frame stands for its centre; values between centres are linear, and before the first
    centre or after the last the edge frame holds."""
    count = math.ceil(round(duration_s * rate_hz, 6))
    if count == 0:
        return np.zeros((0, frames.shape[1]), np.float32)
    if len(frames) == 0:
        raise ValueError("no frames to resample")
    centres = (np.arange(count) + 0.5) * source_rate_hz / rate_hz - 0.5  # (N,) in source frames
    position = np.clip(centres, 0.0, len(frames) - 1)  # (N,)
    low = np.floor(position).astype(np.int64)  # (N,)
    high = np.minimum(low + 1, len(frames) - 1)  # (N,)
    weight = (position - low).astype(np.float32)[:, None]  # (N, 1)
    out: NDArray[np.float32] = ((1.0 - weight) * frames[low] + weight * frames[high]).astype(
        np.float32
    )
    return out


@dataclass(frozen=True)
class BlendshapeTrack:
    """Rows in VALUE_COLUMNS order, frame k covering [k, k + 1) / rate_hz seconds."""

    rate_hz: int
    rows: NDArray[np.float32]  # (N, len(VALUE_COLUMNS))

    @classmethod
    def from_motion(
        cls,
        motion: NDArray[np.float32],
        source_rate_hz: float,
        rate_hz: int,
        duration_s: float | None = None,
    ) -> BlendshapeTrack:
        """Motion frames (each standing for its centre) at source_rate_hz -> a track at rate_hz
        covering duration_s (default: as long as the motion)."""
        check_rate(rate_hz)
        if duration_s is None:
            duration_s = len(motion) / source_rate_hz
        rows = to_blendshapes(resample(motion, source_rate_hz, rate_hz, duration_s))
        return cls(rate_hz, rows)

    @property
    def times_s(self) -> NDArray[np.float64]:
        return np.arange(len(self.rows)) / self.rate_hz

    def column(self, name: str) -> NDArray[np.float32]:
        return self.rows[:, _COLUMN[name]]


def check_rate(rate_hz: int) -> None:
    if rate_hz not in EXPORT_RATES_HZ:
        raise EngineError(
            f"blendshape rate must be one of {EXPORT_RATES_HZ} fps, got {rate_hz}", "bad_fps"
        )


def check_path(path: Path) -> None:
    """Refuse an output name whose format is unknown before any work is done."""
    if path.suffix.lower() not in FORMATS:
        raise EngineError(
            f"{path}: blendshapes are written as {' or '.join(FORMATS)} (by the file name)",
            "bad_format",
        )


def write_track(path: Path, track: BlendshapeTrack) -> None:
    """CSV or JSON by the file's suffix."""
    check_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        write_csv(path, track)
    else:
        write_json(path, track)


def write_csv(path: Path, track: BlendshapeTrack) -> None:
    """time_s first, then VALUE_COLUMNS; one row per frame."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((TIME_COLUMN, *VALUE_COLUMNS))
        for time_s, row in zip(track.times_s, track.rows, strict=True):
            writer.writerow([f"{time_s:.6f}", *(f"{v:.{_DECIMALS}f}" for v in row)])


def write_json(path: Path, track: BlendshapeTrack) -> None:
    """Audio2Face's blendshape JSON keys (exportFps, numPoses, numFrames, facsNames, weightMat),
    plus time, head pose and gaze under their own keys."""
    arkit = track.rows[:, : len(ARKIT_BLENDSHAPES)]
    head = track.rows[:, _COLUMN[HEAD_COLUMNS[0]] : _COLUMN[HEAD_COLUMNS[-1]] + 1]
    gaze = track.rows[:, _COLUMN[GAZE_COLUMNS[0]] :]
    document = {
        "exportFps": track.rate_hz,
        "numPoses": len(ARKIT_BLENDSHAPES),
        "numFrames": len(track.rows),
        "facsNames": list(ARKIT_BLENDSHAPES),
        "weightMat": _rounded(arkit),
        "unmodelledNames": list(UNMODELLED),
        "time_s": [round(float(t), 6) for t in track.times_s],
        "headNames": list(HEAD_COLUMNS),
        "head": _rounded(head),
        "gazeNames": list(GAZE_COLUMNS),
        "gaze": _rounded(gaze),
        "motionSpaceVersion": ms.MOTION_SPACE_VERSION,
    }
    path.write_text(json.dumps(document, separators=(",", ":")))


def layout_message(fps: int) -> dict[str, Any]:
    """Sent once before a live stream's first blendshape frame: what each value is."""
    return {
        "type": "blendshapes_layout",
        "fps": fps,
        "columns": list(VALUE_COLUMNS),
        "unmodelled": list(UNMODELLED),
    }


def frame_message(frame: OutputFrame) -> dict[str, Any]:
    """A live stream's frame -> its blendshape message, stamped on the session's media clock:
    time_s is the frame's start, where its audio (audio_pts) starts on the returned audio track;
    while speech plays, segment_s says how far into the segment the frame ends."""
    assert frame.motion is not None, "every stream frame carries its motion"
    return {
        "type": "blendshapes",
        "frame": frame.index,
        "time_s": round(frame.audio_pts / OUTPUT_AUDIO_RATE_HZ, 6),
        "audio_pts": frame.audio_pts,
        "speaking": frame.speaking,
        "segment_id": frame.segment_id,
        "segment_s": None if frame.segment_s is None else round(frame.segment_s, 4),
        "values": frame_values(frame.motion),
    }


def frame_values(motion: NDArray[np.float32]) -> list[float]:
    """One (MOTION_DIM,) motion frame -> its VALUE_COLUMNS values, rounded for the wire."""
    return _rounded(to_blendshapes(motion[None]))[0]


def _rounded(rows: NDArray[np.float32]) -> list[list[float]]:
    return np.round(rows.astype(np.float64), _DECIMALS).tolist()  # type: ignore[no-any-return]
