"""The mouth that flat art draws, where the face mesh's lips miss it.

On anime and clip art the landmark model places the lips where a photo's would be: beside,
above or wider than the mouth the artist drew (a short line, a small open shape). The jaw then
opened a cavity half outside the drawn mouth, and the drawn one stayed on the face beside it.
Here the mesh's lip points are moved onto the drawn mouth's extent (the marks that differ from
the skin round the mesh's mouth, not joined to the face's outline or the nose): across they
span it, and the lip seam moves only where it lies outside it, or onto the line drawn
between two outlined lips where there is one (fit_drawn_mouth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import face_topology as ft
from models.drawn_eye import flood, luma_of, off_edge
from models.face_rig import flatness, polygon_mask

FLAT_ART = 0.9  # face_rig.flatness at or above which the art is flat (photos 0, manga ~0.8)
INK_DISTANCE = 60.0  # RGB distance from the skin colour that is drawn (lines, lips, mouth)
# The search box round the mesh's outer lips, in mouth widths: beside, below; above it stops
# halfway from the nose tip to the lips.
SEARCH_BESIDE, SEARCH_BELOW = 0.5, 0.6
# A mesh mouth nearer the drawn one than these (in mouth widths) stays: its corners across,
# its lip seam up or down from the drawn mouth's extent.
MIN_MISFIT, MIN_SEAM_MISFIT = 0.12, 0.05
MIN_HEIGHT = 0.06  # of the drawn mouth's width: the lower lip a mouth drawn as a line gets
# A line drawn between the lips: darker than this much of the skin's luma, at most LINE_THICK of
# the mouth's width thick, inside the mark (ink above and below it) in LINE_SHARE of the
# columns across its middle third, which agree on its height to LINE_SPREAD of the width.
LINE_DARK, LINE_THICK, LINE_SHARE, LINE_SPREAD = 0.3, 0.08, 0.6, 0.06
LINE_LIP_PX = 3  # ... with this many px of lip (drawn, not dark) above and below it
LIP_IDS = sorted(
    set(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER + ft.LIPS_INNER_UPPER + ft.LIPS_INNER_LOWER)
)
OUTER = list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER[::-1])


@dataclass(frozen=True)
class DrawnMouth:
    """Where flat art drew its mouth, px: from x0 to x1, from its top over its middle third
    (the line where its lips meet, or the top of the open shape it drew) down to bottom, and
    the height of a line drawn between its lips inside it (None where there is none); and how
    far its middle lies below the middle third's in each column x0.. (a smile's rise to its
    corners, a slant)."""

    x0: float
    x1: float
    top: float
    bottom: float
    line: float | None = None
    bend: np.ndarray | None = None  # (columns,) px


def find_drawn_mouth(image: np.ndarray, landmarks_px: np.ndarray) -> DrawnMouth | None:
    """The drawn mouth round the mesh's lips, or None where none is found: the marks off the
    skin's colour that overlap the mesh's outer lips and do not run to the search box's
    edge."""
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
    ink = off_edge(ink)  # not the face's outline, hair or clothes running through
    drawn = flood(ink & lips[by0:by1, bx0:bx1], ink)  # the marks on the mesh's lips
    if not drawn.any():  # the mesh's lips lie off the drawn mouth: the mark nearest them
        seam = landmarks_px[[ft.INNER_LIP_UPPER_MID, ft.INNER_LIP_LOWER_MID], :2].mean(0)
        drawn = _nearest_mark(ink, seam - (bx0, by0), (mx0 - bx0, mx1 - bx0))
    if not drawn.any():
        return None
    rows, columns = np.nonzero(drawn)
    left, right = int(columns.min()), int(columns.max()) + 1
    third = max((right - left) // 3, 1)
    middle = (columns >= left + third) & (columns < right - third)
    top = rows[middle].min() if middle.any() else rows.min()
    dark = drawn & (luma_of(box) < LINE_DARK * float(luma_of(skin)))
    line = _lip_line(drawn, dark, left + third, right - third, right - left)
    spans = drawn[:, left:right]
    row_ids = np.arange(drawn.shape[0], dtype=np.float32)[:, None]
    column_middle = (spans * row_ids).sum(0) / np.maximum(spans.sum(0), 1)
    bend = column_middle - np.median(column_middle[third : right - left - third])
    return DrawnMouth(
        x0=float(bx0 + left),
        x1=float(bx0 + right),
        top=float(by0 + top),
        bottom=float(by0 + rows.max() + 1),
        line=None if line is None else float(by0 + line),
        bend=bend.astype(np.float32),
    )


def _nearest_mark(ink: np.ndarray, seam: np.ndarray, across: tuple[float, float]) -> np.ndarray:
    """The mark of `ink` (H, W) with a pixel nearest the mesh's lip seam (x, y px in the box)
    among those across the mesh's mouth (columns across[0]..across[1]), or none: clip art
    whose mesh lips sat wholly above its drawn mouth kept them, and opened a cavity in the
    skin over a drawn mouth that stayed shut."""
    rows, columns = np.nonzero(ink)
    under = (columns >= across[0]) & (columns <= across[1])
    seed = np.zeros_like(ink)
    if under.any():
        rows, columns = rows[under], columns[under]
        nearest = int(np.argmin(np.hypot(columns - seam[0], rows - seam[1])))
        seed[rows[nearest], columns[nearest]] = True
    return flood(seed, ink)


def _lip_line(
    drawn: np.ndarray, dark: np.ndarray, first: int, last: int, width: int
) -> float | None:
    """The row of a thin dark line drawn between two lips (lip colour above and below it in
    the same column; an outline round them has it on one side only), over the columns
    first..last, or None: closed lips drawn as two shapes with a line
    between them, whose mesh seam sat on the upper lip's top edge, opened above both lips."""
    found = []
    for column in range(first, last):
        ink, line = drawn[:, column], dark[:, column]
        runs = np.split(np.flatnonzero(line), np.flatnonzero(np.diff(np.flatnonzero(line)) > 1) + 1)
        lip = ink & ~line  # drawn, and not the dark line: the lips' own colour
        inside = [
            r
            for r in runs
            if 0 < len(r) <= LINE_THICK * width
            and lip[: r[0]].sum() >= LINE_LIP_PX
            and lip[r[-1] + 1 :].sum() >= LINE_LIP_PX
        ]
        if len(inside) == 1:
            found.append(0.5 * (inside[0][0] + inside[0][-1]) + 0.5)
    if len(found) < LINE_SHARE * max(last - first, 1):
        return None
    if np.ptp(found) > LINE_SPREAD * width * 3 or np.std(found) > LINE_SPREAD * width:
        return None
    return float(np.median(found))


def fit_drawn_mouth(image: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """landmarks_px (478, 3) with the lips moved onto flat art's drawn mouth (a copy), or as
    they are on other art, or where the mesh's mouth already lies on the drawn one.

    Across, the mesh's mouth spans the drawn one. Up and down, the mesh's lip seam stays where
    it lies inside the drawn mouth (drawn lips' seam line, or an open shape's top), and moves
    to the nearer end of it where it lies outside, or onto the line between two drawn lips
    where there is one (_lip_line); the lips above and below it reach the drawn mouth's top
    and bottom (a mouth drawn as a line gets thin lips)."""
    if flatness(image, landmarks_px) < FLAT_ART:
        return landmarks_px
    drawn = find_drawn_mouth(image, landmarks_px)
    if drawn is None:
        return landmarks_px
    outer = landmarks_px[OUTER, :2]
    mx0, mx1 = float(outer[:, 0].min()), float(outer[:, 0].max())
    my0, my1 = float(outer[:, 1].min()), float(outer[:, 1].max())
    seam_y = float(landmarks_px[[ft.INNER_LIP_UPPER_MID, ft.INNER_LIP_LOWER_MID], 1].mean())
    width, drawn_width = mx1 - mx0, drawn.x1 - drawn.x0
    thin = MIN_HEIGHT * drawn_width
    if drawn.line is not None:  # the lips' own line: the seam goes onto it
        new_seam_y = drawn.line
    else:
        new_seam_y = float(np.clip(seam_y, drawn.top, max(drawn.bottom - thin, drawn.top)))
    misfit = max(abs(drawn.x0 - mx0), abs(drawn.x1 - mx1)) / MIN_MISFIT
    misfit = max(misfit, abs(new_seam_y - seam_y) / MIN_SEAM_MISFIT)
    if misfit < width:
        return landmarks_px
    if not (0.25 * width <= drawn_width <= 2.0 * width and drawn.bottom - drawn.top <= width):
        return landmarks_px  # not a mouth: a speck, or marks joined up round it
    up = max(new_seam_y - drawn.top, thin) / max(seam_y - my0, 1.0)
    down = max(drawn.bottom - new_seam_y, thin) / max(my1 - seam_y, 1.0)
    out = landmarks_px.copy()
    points = out[LIP_IDS, :2]
    points[:, 0] = drawn.x0 + (points[:, 0] - mx0) * drawn_width / width
    offset = points[:, 1] - seam_y
    points[:, 1] = new_seam_y + offset * np.where(offset < 0.0, up, down)
    if drawn.bend is not None:  # the lips follow the drawn mouth's curve and slant
        columns = drawn.x0 + 0.5 + np.arange(len(drawn.bend))
        points[:, 1] += np.interp(points[:, 0], columns, drawn.bend)
    out[LIP_IDS, :2] = points
    return out
