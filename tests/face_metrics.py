"""What a viewer sees, measured on rendered frames by re-detecting landmarks with MediaPipe."""

from __future__ import annotations

import numpy as np

from models import face_topology as ft
from models.face_rig import eye_aspect_ratio


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap over mouth width (2-D, pixels cancel)."""
    gap = np.linalg.norm(
        landmarks[ft.INNER_LIP_UPPER_MID, :2] - landmarks[ft.INNER_LIP_LOWER_MID, :2]
    )
    width = np.linalg.norm(
        landmarks[ft.MOUTH_CORNER_LEFT, :2] - landmarks[ft.MOUTH_CORNER_RIGHT, :2]
    )
    return float(gap / width)


def eye_ratio(landmarks: np.ndarray, side: str) -> float:
    if side == "Left":
        return eye_aspect_ratio(landmarks, ft.EYE_LEFT_VERTICAL_PAIRS, ft.EYE_LEFT_CORNERS)
    return eye_aspect_ratio(landmarks, ft.EYE_RIGHT_VERTICAL_PAIRS, ft.EYE_RIGHT_CORNERS)


def iris_offset(landmarks: np.ndarray) -> np.ndarray:
    """Mean iris centre minus eye-corner midpoint over eye width, both eyes: (2,) x, y."""
    offsets = []
    for iris, (a, b) in (
        (ft.IRIS_LEFT[0], ft.EYE_LEFT_CORNERS),
        (ft.IRIS_RIGHT[0], ft.EYE_RIGHT_CORNERS),
    ):
        mid = 0.5 * (landmarks[a, :2] + landmarks[b, :2])
        width = np.linalg.norm(landmarks[a, :2] - landmarks[b, :2])
        offsets.append((landmarks[iris, :2] - mid) / width)
    return np.mean(offsets, axis=0)


def psnr_db(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    diff = a.astype(np.float64)[mask] - b.astype(np.float64)[mask]
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
