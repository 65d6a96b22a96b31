"""The opening a rendered or painted eye shows, where the mesh's upper lid sits inside it.

The face mesh puts a photographed eye's upper lid on the edge of its sclera. On a 3D cartoon's
wide eyes (white all round the iris) it lays it across the iris, the top of the iris and the
white above it outside the opening: a blink closed that band, squashed the white above it into
a smeared grey lid (the lid zone above the lash line read as a white hat over the eye), and
the eye still read as open (a 3D cartoon bartender at 0.7 of open). Here the upper lid is
raised to the edge of the white above it, and over the iris to clear the iris's disc.

A photo's lid already lies on that edge, with lashes and skin above it, so nothing moves there;
an eye that shows no sclera against its skin (small or dark painted eyes) is left too. The
lower lid stays: the pale skin under a painted eye read as white and pulled it down.
"""

from __future__ import annotations

import numpy as np

from models.drawn_eye import hull_chain

MIN_CONTRAST = 40.0  # RGB distance of the sclera from the skin below which no sclera is found
WHITER_THAN_SKIN = 1.05  # ... and it is a white: brighter than the skin by this much
SCLERA_NEAR = 0.5  # a sclera pixel: within this share of the sclera-skin distance of its colour
SKIN_NEAR = 0.5  # a skin pixel (the search stops): nearer the skin than the sclera, and this near
IRIS_CLEAR = 1.2  # of the iris's radius: the sclera's colour is measured outside this circle
REACH = 0.35  # of the eye's width: the most the lid rises
GAP_PER_WIDTH = 0.1  # ... and the most of neither (the iris's rim, a shadow) crossed to white
# The lid rises where the white lies at least MIN_RISE_PX above it at MIN_RISEN_POINTS points.
MIN_RISE_PX, MIN_RISEN_POINTS = 2.0, 2


def raise_upper_lid(
    image: np.ndarray,
    upper: np.ndarray,
    opening: np.ndarray,
    iris_centre: np.ndarray,
    iris_radius: float,
    skin: np.ndarray,
) -> np.ndarray:
    """The upper lid contour ((M, 2) px, a copy) raised to the white above the mesh's
    `opening` ((H, W) bool) and clear of the iris (its segmented radius, px), where white
    lies above it; as it is otherwise."""
    x0, x1 = float(upper[:, 0].min()), float(upper[:, 0].max())
    width = max(x1 - x0, 1.0)
    reach = REACH * width
    size = image.shape[1]
    bx0, bx1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, size)
    by0 = max(int(upper[:, 1].min() - reach), 0)
    bottom = max(float(upper[:, 1].max()), float(iris_centre[1]) + iris_radius)
    by1 = min(int(np.ceil(bottom)) + 2, image.shape[0])
    upper = upper.copy()
    if bx1 - bx0 < 4 or by1 - by0 < 4:
        return upper
    box = image[by0:by1, bx0:bx1].astype(np.float32)
    ys, xs = np.mgrid[by0:by1, bx0:bx1].astype(np.float32)
    outside_iris = np.hypot(xs - iris_centre[0], ys - iris_centre[1]) > IRIS_CLEAR * iris_radius
    white = opening[by0:by1, bx0:bx1] & outside_iris
    if white.sum() < 8:
        return upper
    luma = box.mean(-1)
    brighter = white & (luma >= np.median(luma[white]))  # not its shaded corners
    sclera = np.median(box[brighter], axis=0)
    contrast = float(np.linalg.norm(sclera - skin))
    if contrast < MIN_CONTRAST or sclera.sum() < WHITER_THAN_SKIN * float(skin.sum()):
        return upper  # no white: a small or shaded eye, its opening darker than the skin
    to_sclera = np.linalg.norm(box - sclera, axis=-1)
    to_skin = np.linalg.norm(box - skin, axis=-1)
    like = to_sclera < SCLERA_NEAR * contrast
    skin_like = (to_skin < to_sclera) & (to_skin < SKIN_NEAR * contrast)
    gap = max(GAP_PER_WIDTH * width, 2.0)
    raised = upper[:, 1].copy()
    for i, (x, y) in enumerate(upper):
        column = int(np.clip(round(x) - bx0, 0, bx1 - bx0 - 1))
        raised[i] = by0 + _white_top(
            like[:, column], skin_like[:, column], ~outside_iris[:, column], y - by0, reach, gap
        )
    if (upper[:, 1] - raised >= MIN_RISE_PX).sum() < MIN_RISEN_POINTS:
        return upper  # the lid is on the white's edge, or the eye shows none above it
    # White above the lid shows the whole iris: over it the lid clears the iris's disc (an
    # iris lit like the skin beside it stopped the search for the white at its rim).
    over = np.sqrt(np.clip(iris_radius**2 - (upper[:, 0] - iris_centre[0]) ** 2, 0.0, None))
    clear = np.where(over > 0.0, iris_centre[1] - over - 1.0, upper[:, 1])
    raised = np.minimum(raised, np.maximum(clear, upper[:, 1] - reach))
    raised = np.minimum(raised, upper[:, 1])
    # A lid's edge arches: the raised points' upper hull, so that a rise over the iris alone
    # (its disc) is not a bump that a half-closed lid showed as a notch.
    upper[:, 1] = _arch(upper[:, 0], raised)
    return upper


def _arch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """y at each x on the upper hull (least y, image rows grow down) of the points (x, y)."""
    chain = hull_chain(sorted(zip(x.tolist(), y.tolist(), strict=True)))
    chain_x, chain_y = zip(*chain, strict=True)
    return np.asarray(np.interp(x, chain_x, chain_y), dtype=y.dtype)


def _white_top(
    white: np.ndarray, skin: np.ndarray, iris: np.ndarray, lid: float, reach: float, gap: float
) -> float:
    """The row (box px) of the white's top in one column, up from the mesh's lid at `lid`: the
    highest white pixel below the skin, within `reach` px and with no more than `gap` px of
    neither (a shadow, the iris's rim) between, past the iris's disc (`iris`); `lid` where
    there is none."""
    top, since = lid, 0
    row = min(int(np.floor(lid)), len(white) - 1)
    while row >= 0 and lid - row <= reach:
        if skin[row] and lid - row > 1.0:  # the lid's own row blends it with the white
            break
        if white[row]:
            top, since = float(row), 0
        elif not iris[row]:
            since += 1
            if since > gap:
                break
        row -= 1
    return top
