"""The mouth that flat art draws, where the face mesh's lips miss it.

On anime and clip art the landmark model places the lips where a photo's would be: beside,
above or wider than the mouth the artist drew (a short line, a small open shape). The jaw then
opened a cavity half outside the drawn mouth, and the drawn one stayed on the face beside it.
Here the mesh's lip points are moved, as a whole, onto the drawn mouth's extent: the marks that
differ from the skin round the mesh's mouth, not joined to the face's outline or the nose.
"""

from __future__ import annotations

import numpy as np

from models import face_topology as ft
from models.drawn_eye import flood
from models.face_rig import flatness, polygon_mask

FLAT_ART = 0.9  # face_rig.flatness at or above which the art is flat (photos 0, manga ~0.8)
INK_DISTANCE = 60.0  # RGB distance from the skin colour that is drawn (lines, lips, mouth)
# The search box round the mesh's outer lips, in mouth widths: beside, below; above it stops
# halfway from the nose tip to the lips.
SEARCH_BESIDE, SEARCH_BELOW = 0.5, 0.6
MIN_MISFIT = 0.12  # of the mouth's width: a mesh mouth nearer the drawn one than this stays
MIN_HEIGHT = 0.12  # of the drawn mouth's width: the lips a mouth drawn as a line gets
LIP_IDS = sorted(
    set(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER + ft.LIPS_INNER_UPPER + ft.LIPS_INNER_LOWER)
)
OUTER = list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER[::-1])


def drawn_mouth_box(image: np.ndarray, landmarks_px: np.ndarray) -> tuple[float, ...] | None:
    """(x0, x1, y0, y1) px of the drawn mouth round the mesh's lips, or None where none is
    found: the marks off the skin's colour that overlap the mesh's outer lips and do not run
    to the search box's edge."""
    outer = landmarks_px[OUTER, :2]
    mx0, mx1 = float(outer[:, 0].min()), float(outer[:, 0].max())
    my1 = float(outer[:, 1].max())
    width = max(mx1 - mx0, 4.0)
    nose_y = float(landmarks_px[ft.NOSE_TIP, 1])
    size = image.shape[0]
    bx0, bx1 = max(int(mx0 - SEARCH_BESIDE * width), 0), min(int(mx1 + SEARCH_BESIDE * width), size)
    by0 = max(int(0.5 * (nose_y + float(outer[:, 1].min()))), 0)
    by1 = min(int(my1 + SEARCH_BELOW * width), size)
    if bx1 - bx0 < 8 or by1 - by0 < 8:
        return None
    face = polygon_mask(landmarks_px[list(ft.FACE_OVAL), :2], size)
    lips = polygon_mask(outer, size)
    skin_pixels = image[face & ~lips]
    if len(skin_pixels) < 16:
        return None
    skin = np.median(skin_pixels.astype(np.float32), axis=0)
    box = image[by0:by1, bx0:bx1].astype(np.float32)
    ink = np.linalg.norm(box - skin, axis=-1) > INK_DISTANCE
    edge = np.zeros_like(ink)
    edge[[0, -1], :], edge[:, [0, -1]] = True, True
    ink &= ~flood(ink & edge, ink)  # not the face's outline, hair or clothes running through
    drawn = flood(ink & lips[by0:by1, bx0:bx1], ink)  # the marks on the mesh's lips
    if not drawn.any():
        return None
    rows, columns = np.nonzero(drawn)
    return (
        float(bx0 + columns.min()),
        float(bx0 + columns.max() + 1),
        float(by0 + rows.min()),
        float(by0 + rows.max() + 1),
    )


def fit_drawn_mouth(image: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """landmarks_px (478, 3) with the lips moved onto flat art's drawn mouth (a copy), or as
    they are on other art, or where the mesh's mouth already lies on the drawn one."""
    if flatness(image, landmarks_px) < FLAT_ART:
        return landmarks_px
    drawn = drawn_mouth_box(image, landmarks_px)
    if drawn is None:
        return landmarks_px
    dx0, dx1, dy0, dy1 = drawn
    outer = landmarks_px[OUTER, :2]
    mx0, mx1 = float(outer[:, 0].min()), float(outer[:, 0].max())
    my0, my1 = float(outer[:, 1].min()), float(outer[:, 1].max())
    width = mx1 - mx0
    misfit = max(abs(dx0 - mx0), abs(dx1 - mx1), abs(0.5 * (dy0 + dy1 - my0 - my1)))
    if misfit < MIN_MISFIT * width or dx1 - dx0 < 0.25 * width:
        return landmarks_px
    height = max(dy1 - dy0, MIN_HEIGHT * (dx1 - dx0))
    centre_y = 0.5 * (dy0 + dy1)
    out = landmarks_px.copy()
    points = out[LIP_IDS, :2]
    points[:, 0] = dx0 + (points[:, 0] - mx0) * (dx1 - dx0) / width
    points[:, 1] = centre_y + (points[:, 1] - 0.5 * (my0 + my1)) * height / max(my1 - my0, 1.0)
    out[LIP_IDS, :2] = points
    return out
