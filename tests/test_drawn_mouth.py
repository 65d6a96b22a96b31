"""The mouth of flat art opens where it is drawn (models/drawn_mouth.py): on the anime portrait
the face mesh lays its lips wider than the drawn mouth and off to one side, and the jaw opened
a cavity half on the bare skin beside it."""

from __future__ import annotations

import numpy as np
import pytest

from engine.avatar.prepared import PreparedAvatar
from engine.render.renderer import AvatarRenderer
from models import motion_space as ms
from tests.drawn_portrait import draw_anime_portrait

MOUTH_FILL = np.array([150, 60, 70], np.float32)  # the drawn open mouth's colour
OUTLINE = np.array([40, 28, 30], np.float32)  # its outline and the line over it


@pytest.fixture(scope="module")
def anime(tmp_path_factory: pytest.TempPathFactory) -> PreparedAvatar:
    from engine.avatar.prepare import prepare_avatar  # mediapipe

    path = tmp_path_factory.mktemp("drawn") / "anime.png"
    draw_anime_portrait().save(path)
    return prepare_avatar(path)


def _columns(mask: np.ndarray) -> tuple[float, float, float]:
    """(left, right, middle) x of a mask's pixels."""
    xs = np.nonzero(mask)[1]
    return float(xs.min()), float(xs.max()), float(xs.mean())


def test_the_jaw_opens_the_mouth_as_drawn(anime: PreparedAvatar) -> None:
    image = anime.image.astype(np.float32)
    fill = np.abs(image - MOUTH_FILL).max(-1) < 30.0
    rows, columns = np.nonzero(fill)
    drawn = fill | (np.abs(image - OUTLINE).max(-1) < 30.0)  # with its outline, round the fill
    around = np.zeros_like(drawn)
    around[rows.min() - 8 : rows.max() + 6, columns.min() - 20 : columns.max() + 20] = True
    left, right, middle = _columns(drawn & around)
    width = right - left
    renderer = AvatarRenderer(anime)
    shut = renderer.render(ms.with_fields(anime.source_motion, jawOpen=0.0))[0]
    opened = renderer.render(ms.with_fields(anime.source_motion, jawOpen=1.0))[0]
    changed = np.abs(opened.astype(np.int16) - shut.astype(np.int16)).max(-1) > 40
    near = np.zeros_like(changed)  # round the mouth: not the jaw's outline moving
    near[
        int(rows.min()) - 10 : int(rows.max() + 0.5 * width),
        int(left - width) : int(right + width),
    ] = True
    c_left, c_right, c_middle = _columns(changed & near)
    assert abs(c_middle - middle) < 0.25 * width, (
        f"the mouth opened {c_middle - middle:+.0f} px from the drawn mouth's middle "
        f"({width:.0f} px wide)"
    )
    assert c_left > left - 0.25 * width and c_right < right + 0.25 * width, (
        f"the opening spans x {c_left:.0f}-{c_right:.0f}, the drawn mouth {left:.0f}-{right:.0f}"
    )


def test_lips_drawn_with_a_line_between_them_part_at_the_line(anime: PreparedAvatar) -> None:
    """Bug: on clip art that draws closed lips as two outlined shapes with a line between them,
    the mesh's lip seam sat on the upper lip's top edge, inside the drawn mouth, and stayed:
    the jaw opened the mouth above both lips, teeth on the bare skin over them."""
    from models import face_topology as ft
    from models.drawn_mouth import fit_drawn_mouth

    image = anime.image.copy()
    landmarks = anime.landmarks_px
    seam_y = float(landmarks[[ft.INNER_LIP_UPPER_MID, ft.INNER_LIP_LOWER_MID], 1].mean())
    outer = landmarks[list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER), :2]
    x0, x1 = int(outer[:, 0].min()), int(outer[:, 0].max())
    skin = np.median(image[int(seam_y) - 40 : int(seam_y) - 25, x0:x1].reshape(-1, 3), axis=0)
    image[int(seam_y) - 12 : int(seam_y) + 30, x0 - 10 : x1 + 10] = skin  # the old mouth off
    # Two orange lips with a black outline and a black line between them, the upper lip's top
    # edge on the mesh's seam.
    top, line, bottom = round(seam_y), round(seam_y) + 8, round(seam_y) + 16
    image[top : bottom + 1, x0:x1] = (0, 0, 0)
    image[top + 2 : line - 1, x0 + 2 : x1 - 2] = (250, 80, 25)
    image[line + 2 : bottom - 1, x0 + 2 : x1 - 2] = (250, 80, 25)
    fitted = fit_drawn_mouth(image, landmarks)
    new_seam = float(fitted[[ft.INNER_LIP_UPPER_MID, ft.INNER_LIP_LOWER_MID], 1].mean())
    assert abs(new_seam - (line + 0.5)) <= 1.5, (
        f"the seam is at y {new_seam:.1f}, the line between the lips at {line + 0.5:.1f}"
    )


def test_lips_drawn_below_the_mesh_mouth_are_found_and_their_slant_followed(
    anime: PreparedAvatar,
) -> None:
    """Bug: on clip art whose mesh lips lay wholly above the drawn mouth (no drawn mark on
    them), the mesh's mouth stayed: the jaw opened a cavity in the bare skin over a drawn mouth
    that stayed shut. And the fitted lips kept the mesh's level shape on a slanted smile."""
    from models import face_topology as ft
    from models.drawn_mouth import fit_drawn_mouth

    image = anime.image.copy()
    landmarks = anime.landmarks_px
    outer = landmarks[list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER), :2]
    x0, x1 = int(outer[:, 0].min()), int(outer[:, 0].max())
    y0, y1 = int(outer[:, 1].min()), int(outer[:, 1].max())
    skin = np.median(image[y0 - 40 : y0 - 25, x0:x1].reshape(-1, 3), axis=0)
    image[y0 - 12 : y1 + 40, x0 - 10 : x1 + 10] = skin  # the old mouth off
    # Two orange lips with a black outline and a line between them, wholly below the mesh's
    # lips, rising 6 px from the left end to the right.
    rise_px = 6.0
    top0 = y1 + 3
    for x in range(x0, x1):
        top = top0 + round(rise_px * (x1 - x) / (x1 - x0))
        image[top : top + 13, x] = (0, 0, 0)
        if x0 + 2 <= x < x1 - 2:
            image[top + 2 : top + 6, x] = (250, 80, 25)
            image[top + 8 : top + 12, x] = (250, 80, 25)
    fitted = fit_drawn_mouth(image, landmarks)
    seam = fitted[[ft.INNER_LIP_UPPER_MID, ft.INNER_LIP_LOWER_MID]].mean(0)
    line_y = top0 + rise_px * (x1 - seam[0]) / (x1 - x0) + 7.0
    assert abs(seam[1] - line_y) <= 2.0, (
        f"the seam is at y {seam[1]:.1f}, the line between the drawn lips at {line_y:.1f}"
    )
    corners = fitted[[ft.MOUTH_CORNER_LEFT, ft.MOUTH_CORNER_RIGHT], :2]
    left, right = corners[np.argsort(corners[:, 0])]
    assert left[1] - right[1] > 0.5 * rise_px, (
        f"the fitted corners are level within {left[1] - right[1]:.1f} px on lips rising "
        f"{rise_px:.0f} px"
    )
