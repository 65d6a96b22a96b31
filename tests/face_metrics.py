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


def inter_ocular_px(landmarks: np.ndarray) -> float:
    """Distance between the two eyes' corner midpoints, in pixels."""
    left = landmarks[list(ft.EYE_LEFT_CORNERS), :2].mean(0)
    right = landmarks[list(ft.EYE_RIGHT_CORNERS), :2].mean(0)
    return float(np.linalg.norm(left - right))


def iris_shift_iod(moved: np.ndarray, still: np.ndarray) -> np.ndarray:
    """(2,) x, y: how far the iris centres moved between two frames' landmarks, relative to the
    eye corners (head motion cancels), in inter-ocular distances, averaged over both eyes."""
    shifts = []
    for iris, corners in (
        (ft.IRIS_LEFT[0], ft.EYE_LEFT_CORNERS),
        (ft.IRIS_RIGHT[0], ft.EYE_RIGHT_CORNERS),
    ):
        rel_moved = moved[iris, :2] - moved[list(corners), :2].mean(0)
        rel_still = still[iris, :2] - still[list(corners), :2].mean(0)
        shifts.append(rel_moved - rel_still)
    return np.mean(shifts, axis=0) / inter_ocular_px(still)


def _polygon(landmarks: np.ndarray, indices: list[int], shape: tuple[int, int]) -> np.ndarray:
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[indices, :2]).astype(np.int32)], (1,))
    return mask.astype(bool)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def mouth_interior_shares(frame: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
    """(tooth-like share, dark share) of the pixels inside the inner lips of one frame.

    Relative to the face's own skin, so a dim painting and a bright photo read alike:
    tooth-like is at least 0.7 of the median skin luma and less saturated than skin (teeth
    are greyish-white to ivory, lips and tongue are red); dark is under 0.3 of the skin luma
    (a cavity seen as a black hole).
    """
    shape = frame.shape[:2]
    inner = _polygon(landmarks, list(ft.LIPS_INNER_UPPER + ft.LIPS_INNER_LOWER[::-1]), shape)
    if inner.sum() < 4:
        return 0.0, 0.0
    face = _polygon(landmarks, list(ft.FACE_OVAL), shape)
    outer = _polygon(landmarks, list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER[::-1]), shape)
    skin = frame[face & ~outer].astype(np.float32)
    skin_luma = float(np.median(_luma(skin)))
    skin_sat = float(np.median(_saturation(skin)))
    pixels = frame[inner]
    luma, sat = _luma(pixels), _saturation(pixels.astype(np.float32))
    teeth = (luma >= 0.7 * skin_luma) & (sat <= max(0.75 * skin_sat, 0.12))
    dark = luma < 0.3 * skin_luma
    return float(teeth.mean()), float(dark.mean())


def _saturation(rgb: np.ndarray) -> np.ndarray:
    top, bottom = rgb.max(-1), rgb.min(-1)
    return np.asarray((top - bottom) / np.maximum(top, 1.0))


def open_mouth_interior(
    frames: list[np.ndarray], landmarks: list[np.ndarray], min_opening: float = 0.08
) -> tuple[float, float, int]:
    """Mouth interior over renders of speech: (teeth share, dark share, frames counted).

    Frames whose inner-lip gap is at least `min_opening` mouth widths are open-mouth frames;
    the shares are averaged over the more open half of them (the frames where a viewer looks
    into the mouth).
    """
    openings = np.array([mouth_opening(lm) for lm in landmarks])
    open_idx = np.flatnonzero(openings >= min_opening)
    if len(open_idx) == 0:
        return 0.0, 0.0, 0
    median = np.median(openings[open_idx])
    chosen = [i for i in open_idx if openings[i] >= median]
    shares = np.array([mouth_interior_shares(frames[i], landmarks[i]) for i in chosen])
    return float(shares[:, 0].mean()), float(shares[:, 1].mean()), len(chosen)
