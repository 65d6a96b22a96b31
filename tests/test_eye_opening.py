"""A wide-open rendered eye closes over all of its white (models/eye_opening.py): on 3D
cartoons the face mesh lays the upper lid across the iris, below the white above it, and a
blink left that white as a smeared grey lid over an eye that read as open."""

from __future__ import annotations

import numpy as np

from models.eye_opening import raise_upper_lid

SKIN = np.array([194.0, 151.0, 99.0])
SCLERA, IRIS, LASH = (250, 244, 230), (90, 110, 70), (30, 25, 20)
SIZE = 128
CENTRE = np.array([64.0, 64.0])
IRIS_RADIUS = 10.0


def _eye(
    lash_px: int, white_rgb: tuple[int, int, int] = SCLERA
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An eye 48 px wide whose white (`white_rgb`) shows 14 px above its centre, with
    `lash_px` rows of dark lashes over it; and the mesh's upper lid 6 px above the centre,
    across the iris."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    image = np.empty((SIZE, SIZE, 3), np.uint8)
    image[:] = SKIN.astype(np.uint8)
    u = (xs - CENTRE[0]) / 24.0
    white = (np.abs(u) < 1.0) & (ys > CENTRE[1] - 14.0 * (1.0 - u**2)) & (ys < CENTRE[1] + 8.0)
    image[white] = white_rgb
    image[np.hypot(xs - CENTRE[0], ys - CENTRE[1]) <= IRIS_RADIUS] = IRIS
    lashes = (np.abs(u) < 1.0) & (ys <= CENTRE[1] - 14.0 * (1.0 - u**2))
    lashes &= ys > CENTRE[1] - 14.0 * (1.0 - u**2) - lash_px
    image[lashes] = LASH
    columns = CENTRE[0] + np.linspace(-24.0, 24.0, 9)
    upper = np.stack([columns, CENTRE[1] - 6.0 * (1.0 - ((columns - 64.0) / 24.0) ** 2)], 1)
    opening = white & (ys > CENTRE[1] - 6.0 * (1.0 - u**2))
    return image, upper, opening


def test_a_lid_below_the_white_rises_to_its_edge_and_clears_the_iris() -> None:
    image, upper, opening = _eye(lash_px=2)
    raised = raise_upper_lid(image, upper, opening, CENTRE, IRIS_RADIUS, SKIN)
    middle = raised[4]
    assert middle[1] <= CENTRE[1] - IRIS_RADIUS - 1.0, (
        f"the lid's middle is at y {middle[1]:.1f}, the iris's top at {CENTRE[1] - IRIS_RADIUS}"
    )
    true_top = CENTRE[1] - 14.0 * (1.0 - ((raised[:, 0] - 64.0) / 24.0) ** 2)
    inner = slice(2, 7)
    assert np.all(np.abs(raised[inner, 1] - true_top[inner]) <= 2.5), (
        f"the raised lid {np.round(raised[inner, 1], 1)} is not on the white's top "
        f"{np.round(true_top[inner], 1)}"
    )


def test_a_lid_on_the_white_s_edge_stays() -> None:
    """A photo's lid: lashes and skin right above the mesh's lid, no white above it."""
    image, upper, opening = _eye(lash_px=4)
    on_edge = upper.copy()
    on_edge[:, 1] = CENTRE[1] - 14.0 * (1.0 - ((upper[:, 0] - 64.0) / 24.0) ** 2)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    full = opening | ((image == SCLERA).all(-1) | (image == IRIS).all(-1))
    raised = raise_upper_lid(image, on_edge, full, CENTRE, IRIS_RADIUS, SKIN)
    np.testing.assert_array_equal(raised, on_edge)


def test_a_lid_below_the_iris_s_disc_is_searched_without_error() -> None:
    """Bug: the search box ended at the iris's bottom, and a mesh lid lower than that (a
    small iris over glasses on an anime portrait) indexed past it: prepare failed."""
    image, upper, opening = _eye(lash_px=2)
    low = upper.copy()
    low[:, 1] += 20.0
    raised = raise_upper_lid(image, low, opening, CENTRE, 3.0, SKIN)
    assert raised.shape == low.shape and np.all(raised[:, 1] <= low[:, 1])


def test_an_eye_that_shows_no_white_keeps_its_lid() -> None:
    """Bug: a small painted eye in shadow, its opening darker than the skin, had that shade
    taken for its white: the lid rose into the skin above it, and the closed lid took that
    skin's shadow in."""
    shade = (90, 62, 45)  # darker than the skin: no white to find
    image, upper, opening = _eye(lash_px=2, white_rgb=shade)
    raised = raise_upper_lid(image, upper, opening, CENTRE, IRIS_RADIUS, SKIN)
    np.testing.assert_array_equal(raised, upper)


def test_a_raised_lid_arches_without_a_bump_over_the_iris() -> None:
    """Bug: where the white above the lid showed on one side of the iris only, the lid rose
    there and over the iris (clearing its disc) but not beyond it: a bump, which a half-closed
    lid showed as a notch (the caricature). A raised lid arches: its height is convex across
    the eye."""
    image, upper, opening = _eye(lash_px=2)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    lid_y = CENTRE[1] - 6.0 * (1.0 - ((xs - CENTRE[0]) / 24.0) ** 2)
    image[(xs > CENTRE[0] + IRIS_RADIUS + 2.0) & (ys < lid_y)] = SKIN.astype(np.uint8)
    raised = raise_upper_lid(image, upper, opening, CENTRE, IRIS_RADIUS, SKIN)
    assert np.any(raised[:, 1] < upper[:, 1] - 2.0), "the lid did not rise"
    bends = np.diff(raised[:, 1], 2)  # evenly spaced columns
    assert np.all(bends >= -1e-3), f"the raised lid {np.round(raised[:, 1], 1)} does not arch"
