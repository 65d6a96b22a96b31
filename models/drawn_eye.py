"""The eye as drawn, where stylised art outlines it: the opening and iris from the image.

The face mesh fits a photographed eye. On anime and cartoon art the drawn eye is several times
taller than a real one, and the mesh lays its lids in a thin band under the upper lash line and
its iris on the lashes: a blink then closed that band only and a gaze moved a sliver of the
drawn iris (the wrong way). Such art draws each eye as light shapes (sclera, highlights) closed
off from the skin by a dark outline: the opening is what that outline encloses around the mesh's
eye; its iris is the darker part inside. A photo or a painting has no closed outline, its sclera
runs into the skin, nothing is found, and the mesh stands.

Shaded anime (visual-novel art) draws the eye in soft gradients under a lash line, its white
running into the skin where no lower line is drawn: no outline closes it and no flat colours
split it. There the eye is what is not skin below the mesh's upper lid (the lash line the mesh
does fit), around the mesh's eye, closed off by skin on every side: a compact shape with white
in it. A shadow under a photographed eye is ragged and has no white; a photo's own eye is no
larger than the mesh's.

Flat art (cartoons, clip art, anime drawn in flat fills) also draws eyes no outline closes: a
filled dark iris that splits the sclera into small pieces under a thick lash line, or a huge
iris in a white rim against the skin. Where the box round the mesh's eye is flat (a few exact
colours cover much of it, as no photo or painting does), the eye is what is left around the
mesh's eye once the skin, hair and strokes (reached from the box's edge) are taken away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEARCH_PER_WIDTH = (0.6, 1.2, 1.8)  # the search box: beside, above and below the mesh's eye
DARK_OF_BRIGHT = 0.5  # an outline pixel: darker than this much of the box's bright level
MIN_GROWTH = 1.6  # the drawn opening must be this much larger than the mesh's to be used
MAX_AREA_PER_WIDTH2 = 2.0  # ... and no larger than this many squared mesh eye widths
IRIS_OF_SCLERA = 0.75  # iris pixels: darker than this much of the sclera's luma
LID_COLUMNS = 15  # lid contour samples across the drawn opening
FLAT_MIN_GROWTH = 1.0  # ... in flat art: at least the mesh's (the outline is the eye there)
MAX_FLAT_AREA_PER_WIDTH2 = 3.0  # ... or for a flat-coloured eye (whose round iris can be huge)
MAX_SHADED_AREA_PER_WIDTH2 = 3.0  # ... or a shaded one (the far eye of a turned head: the mesh
# foreshortens its width more than the drawn eye's)
FLAT_STEP = 24  # flat art: an area of one colour is within this of it per channel
EDGE_COLOUR_SHARE = 0.05  # a colour common on the search box's edge: this share of it
FLAT_SHARE = 0.3  # flat art: three exact colours cover this much of the box (photos: < 0.1)
STROKE_OF_BRIGHT = 0.25  # a stroke (outline, lashes): darker than this much of the bright level
STROKE_CHROMA = 48  # ... and about grey (an iris drawn dark is coloured)
PIECE_GAP_PX = 4  # the eye's pieces: at most this far apart (a stroke round the iris between)
SKIN_SHADE_STEP = 16  # skin in light or shadow: within this of a multiple of the face's colour
SKIN_SHADE_RANGE = (0.55, 1.15)  # ... of that multiple
# A dot eye (_dot_eye): DOT_SIZE_PER_WIDTH of the mesh eye's width across, filling DOT_FILL of
# its box (a disc fills 0.79, a stroke far less), within DOT_REACH_PER_WIDTH of the mesh eye.
DOT_SIZE_PER_WIDTH = (0.12, 0.8)
DOT_FILL = 0.6
DOT_REACH_PER_WIDTH = 1.0
DOT_RIM_PX = 2
# A shaded eye (_shaded_eye): skin is within SHADED_SKIN_STEP of a multiple of the face's
# colour (gradients are wider than flat art's); the eye runs from SHADED_LID_MARGIN_PX above
# the mesh's upper lid, fills SHADED_FILL of its hull, is SHADED_ASPECT times as tall as wide,
# is SHADED_MIN_GROWTH times the mesh's opening or more, and SHADED_WHITE_SHARE of it is
# white: lighter than WHITE_OF_BRIGHT of the box's bright level and greyer than
# WHITE_OF_SKIN_CHROMA of the skin's chroma (pale anime skin in light is within 30 of grey,
# its white within 10).
SHADED_SKIN_STEP = 24
SHADED_LID_MARGIN_PX = 2
SHADED_FILL = 0.7
SHADED_MIN_GROWTH = 2.5  # (anime draws it three to eight times the mesh's opening)
SHADED_ASPECT = (0.6, 1.5)  # tall: a photographed eye's opening is 0.3-0.45 of its width
SHADED_WHITE_SHARE = 0.05
SHADED_WING_PER_WIDTH = 0.25  # the lash line's ends it takes in: this far past its corners
SHADED_WING_GROWTH = 1.3  # ... growing its opening by at most this much
SHADED_RIM_PX = 2  # and the soft edge round it
SHADED_WHITE_ABOVE = 0.5  # most of what lies ABOVE_PX above its top may be white (a lid across)
ABOVE_PX = 4
WHITE_OF_BRIGHT = 0.85
WHITE_OF_SKIN_CHROMA = 0.5


@dataclass(frozen=True)
class DrawnEye:
    """One eye's opening and iris as drawn, in crop pixels."""

    opening: np.ndarray  # (H, W) bool
    upper: np.ndarray  # (LID_COLUMNS, 2) x, y along the top of the opening, left to right
    lower: np.ndarray  # (LID_COLUMNS, 2) ... along its bottom
    iris_centre: np.ndarray  # (2,) x, y
    iris_radius: float  # px, half the iris's height or width, whichever is larger


def luma_of(image: np.ndarray) -> np.ndarray:
    """Luma (Rec. 601) of RGB pixels (..., 3), float32."""
    return np.asarray(image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))


def saturation_of(colours: np.ndarray) -> np.ndarray:
    """Saturation (HSV's: chroma over the largest channel) of RGB colours (..., 3)."""
    top = colours.max(-1)
    return np.asarray((top - colours.min(-1)) / np.maximum(top, 1.0))


def _bright(luma: np.ndarray) -> float:
    """A box's bright level: its luma's 95th percentile (the darker marks are measured by it)."""
    return float(np.percentile(luma, 95))


def _strokes(luma: np.ndarray) -> np.ndarray:
    """(H, W) bool: a box's strokes (outline, lashes, dots), STROKE_OF_BRIGHT of its bright
    level or darker."""
    return np.asarray(luma < STROKE_OF_BRIGHT * _bright(luma))


def find_drawn_eye(
    image: np.ndarray,
    mesh_opening: np.ndarray,
    mesh_iris: np.ndarray,
    skin: np.ndarray | None = None,
) -> DrawnEye | None:
    """The drawn eye around a mesh eye (its opening polygon (M, 2), iris points (5, 2), centre
    first), or None where no outlined eye much larger than the mesh's is there. `skin` (3,),
    the face's colour 0..255, keeps flat art's skin and its shades out of the eye."""
    size = image.shape[0]
    x0, x1 = float(mesh_opening[:, 0].min()), float(mesh_opening[:, 0].max())
    width = max(x1 - x0, 4.0)
    mid_y = float(mesh_opening[:, 1].mean())
    beside, above, below = (f * width for f in SEARCH_PER_WIDTH)
    bx0, bx1 = max(int(x0 - beside), 0), min(int(x1 + beside) + 1, size)
    by0, by1 = max(int(mid_y - above), 0), min(int(mid_y + below) + 1, size)
    luma = luma_of(image[by0:by1, bx0:bx1])
    light = luma >= DARK_OF_BRIGHT * _bright(luma)
    # Light regions that do not reach the box's edge are closed off by a dark outline; of those,
    # the ones that overlap the mesh's opening are this eye's.
    enclosed = off_edge(light)
    mesh_box = _fill_polygon(mesh_opening - [bx0, by0], light.shape)
    enclosed = flood(enclosed & mesh_box, enclosed)
    ix, iy = np.round(mesh_iris[0] - [bx0, by0]).astype(int)
    most = MAX_AREA_PER_WIDTH2 * width * width

    def fits(
        opening: np.ndarray, most: float = most, growth: float = MIN_GROWTH, iris: bool = True
    ) -> bool:
        """Whether an opening holds the mesh's iris (where `iris`) and is in size between
        `growth` times the mesh's opening and `most`."""
        inside = 0 <= iy < opening.shape[0] and 0 <= ix < opening.shape[1] and opening[iy, ix]
        least = growth * max(float(mesh_box.sum()), 1.0)
        return (bool(inside) or not iris) and least <= float(opening.sum()) <= most

    box = image[by0:by1, bx0:bx1]
    if _is_flat(box):
        # Cartoon eyes drawn as flat colour shapes: a dark iris that splits the sclera into
        # small pieces, or a white rim against the skin with no outline below it.
        pieces = _flat_eye_pieces(box, luma, mesh_opening - [bx0, by0], skin)
        opening_box = _hull_mask(pieces) if pieces.sum() >= 8 else pieces
        if not fits(opening_box, MAX_FLAT_AREA_PER_WIDTH2 * width * width, FLAT_MIN_GROWTH):
            dot = _dot_eye(luma, mesh_opening - [bx0, by0], width)
            return None if dot is None else _drawn_dot(dot, bx0, by0, size)
        enclosed = pieces & (luma >= IRIS_OF_SCLERA * float(np.percentile(luma[pieces], 95)))
        if enclosed.sum() < 4:
            return None
        iris_area = opening_box
    else:
        opening_box = _hull_mask(enclosed) if enclosed.sum() >= 8 else enclosed
        iris_area = opening_box
        if not fits(opening_box) or not _greyer_than_skin(box[enclosed], skin):
            # Else a shaded eye: grown from the mesh's eye, so overlapping it, but below the
            # lash line the mesh's iris may sit on.
            shaded = None if skin is None else _shaded_eye(box, luma, mesh_box, skin)
            shaded_most = MAX_SHADED_AREA_PER_WIDTH2 * width * width
            if shaded is None or not fits(shaded[2], shaded_most, SHADED_MIN_GROWTH, iris=False):
                return None
            opening_box, enclosed, iris_area = shaded
    opening = np.zeros((size, size), bool)
    opening[by0:by1, bx0:bx1] = opening_box
    upper, lower = _lid_contours(opening_box, bx0, by0)
    centre, radius = _iris(luma, iris_area, enclosed, bx0, by0)
    if radius <= 0.0:
        return None
    return DrawnEye(opening, upper, lower, centre, radius)


def _dot_eye(luma: np.ndarray, mesh_opening: np.ndarray, width: float) -> np.ndarray | None:
    """A cartoon's dot eye by the mesh's eye, in a box of flat art: (H, W) bool, or None.

    Clip art often draws each eye as a solid dark dot, which the mesh's eye lies beside (its
    lids closed on bare skin next to the dot, as two grey lines, and the dot stayed). The dot
    is the near-black mark nearest the mesh eye's middle that is round (DOT_FILL of its box,
    about as tall as wide), DOT_SIZE_PER_WIDTH of the mesh eye's width across, and not joined
    to the box's edge (hair, the face's outline)."""
    dark = off_edge(_strokes(luma))
    ys, xs = np.nonzero(dark)
    if not len(ys):
        return None
    cx, cy = mesh_opening.mean(0)
    distance = np.hypot(xs - cx, ys - cy)
    seen = np.zeros_like(dark)
    for k in np.argsort(distance):
        if distance[k] > DOT_REACH_PER_WIDTH * width:
            break
        if seen[ys[k], xs[k]]:
            continue
        seed = np.zeros_like(dark)
        seed[ys[k], xs[k]] = True
        blob = flood(seed, dark)
        seen |= blob
        rows, columns = np.nonzero(blob)
        tall, wide = np.ptp(rows) + 1, np.ptp(columns) + 1
        round_ = blob.sum() >= DOT_FILL * tall * wide and 0.5 <= tall / wide <= 2.0
        if (
            round_
            and DOT_SIZE_PER_WIDTH[0] * width <= max(tall, wide) <= DOT_SIZE_PER_WIDTH[1] * width
        ):
            return blob
    return None


def _drawn_dot(dot: np.ndarray, bx0: int, by0: int, size: int) -> DrawnEye:
    """A dot eye as a drawn eye: the dot is its iris, and with its soft rim (DOT_RIM_PX; left
    out, it stayed as two dark strokes beside the closed lid) its opening."""
    rim = _grown(dot, DOT_RIM_PX)
    opening = np.zeros((size, size), bool)
    opening[by0 : by0 + dot.shape[0], bx0 : bx0 + dot.shape[1]] = rim
    upper, lower = _lid_contours(rim, bx0, by0)
    rows, columns = np.nonzero(dot)
    centre = np.array(
        [0.5 * (columns.min() + columns.max()) + bx0, 0.5 * (rows.min() + rows.max()) + by0]
    )
    radius = 0.5 * float(max(np.ptp(rows), np.ptp(columns)) + 1) + 0.5
    return DrawnEye(opening, upper, lower, centre, radius)


def _greyer_than_skin(light: np.ndarray, skin: np.ndarray | None) -> bool:
    """Whether an outlined eye's light pixels (N, 3) are greyer than the face's `skin` (3,)
    (none given: taken to be), as an eye's white is: a tinted lens framed by spectacles is
    light and closed off too, and more saturated than the face."""
    if skin is None or not len(light):
        return True
    white = np.median(light.astype(np.float32), axis=0)
    return bool(saturation_of(white) < saturation_of(skin.astype(np.float32)))


def _shaded_eye(
    box: np.ndarray, luma: np.ndarray, mesh_box: np.ndarray, skin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A shaded anime eye around the mesh's eye (`mesh_box`, its opening filled) in a box of the
    image: its opening (the hull of what is not skin below the mesh's upper lid, joined to the
    mesh's eye and not to the box's edge, with the lash line's ends beside it), its white, and
    where its iris is (the opening less the lash line's ends), all (H, W) bool; or None where
    that is not eye-shaped (ragged, tall, or with no white in it)."""
    chroma = box.max(-1).astype(np.float32) - box.min(-1)
    white = (chroma < WHITE_OF_SKIN_CHROMA * float(np.ptp(skin))) & (
        luma >= WHITE_OF_BRIGHT * _bright(luma)
    )
    skin_like = _dilate(_erode(skin_shade(box.astype(np.int16), skin, SHADED_SKIN_STEP), 1), 1)
    columns = np.flatnonzero(mesh_box.any(0))
    if not len(columns):
        return None
    lid_y = np.interp(np.arange(luma.shape[1]), columns, mesh_box[:, columns].argmax(0))
    below_lid = np.arange(luma.shape[0])[:, None] >= lid_y[None, :] - SHADED_LID_MARGIN_PX
    allowed = ~skin_like & below_lid
    allowed &= _dilate(_erode(allowed, 1), 1)  # not the thin lines that join it to hair
    eye = off_edge(flood(mesh_box & allowed, allowed))
    if eye.sum() < 8:
        return None
    # Under a lash line, what lies just above the eye is the line, or skin: where the white
    # runs on up over most of its width, the mesh's lid crosses an eye it does not fit (a
    # round cartoon eye), and what is below it is only part of that eye.
    eye_columns = np.flatnonzero(eye.any(0))
    tops = eye[:, eye_columns].argmax(0)
    above_rows = np.clip(tops[:, None] - np.arange(1, ABOVE_PX + 1), 0, None)
    above = white[above_rows, eye_columns[:, None]]
    if float(above.mean()) > SHADED_WHITE_ABOVE:
        return None
    opening = _hull_mask(eye)
    rows, cols = np.nonzero(eye)
    white &= eye
    if (
        eye.sum() < SHADED_FILL * opening.sum()
        or not SHADED_ASPECT[0] * np.ptp(cols) <= np.ptp(rows) <= SHADED_ASPECT[1] * np.ptp(cols)
        or white.sum() < SHADED_WHITE_SHARE * eye.sum()
    ):
        return None
    # The lash line's ends, drawn on past the eye's corners at its height (a thick wing at the
    # outer one), close with it: left out, they stayed as dark blobs beside the closed eye.
    stroke = _strokes(luma)
    reach = int(SHADED_WING_PER_WIDTH * np.ptp(cols))
    band = np.zeros_like(eye)  # beside the eye's upper half
    band[
        rows.min() : (rows.min() + rows.max()) // 2,
        max(cols.min() - reach, 0) : cols.max() + reach + 1,
    ] = True
    wing = flood(stroke & _dilate(eye, 2) & band, stroke & band)
    with_wing = _hull_mask(eye | wing)
    # (unless what it joins runs on: hair, a spectacle frame)
    if with_wing.sum() > SHADED_WING_GROWTH * opening.sum():
        with_wing = opening
    # And the soft rim round it, where the eye's edge blends into the skin: left out, a closed
    # eye kept it as a thin grey outline.
    return _grown(with_wing, SHADED_RIM_PX), white, opening


def _hull_mask(mask: np.ndarray) -> np.ndarray:
    """The convex hull of a mask's pixels (their whole squares), as a mask."""
    corners = (np.argwhere(mask)[:, ::-1, None] + [[0, 1, 0, 1], [0, 0, 1, 1]]) - 0.5
    hull = _convex_hull(corners.transpose(0, 2, 1).reshape(-1, 2))
    return _fill_polygon(hull, mask.shape)


def _is_flat(box: np.ndarray) -> bool:
    """Whether a box of the image is flat art: three exact colours cover FLAT_SHARE of it,
    where a photo's or a painting's shading leaves each colour a few pixels."""
    keys = box.reshape(-1, 3).astype(np.int64) @ np.array([65536, 256, 1])
    _, counts = np.unique(keys, return_counts=True)
    return bool(np.sort(counts)[-3:].sum() >= FLAT_SHARE * len(keys))


def skin_shade(rgb: np.ndarray, skin: np.ndarray, step: float = SKIN_SHADE_STEP) -> np.ndarray:
    """(...) bool: pixels (..., 3) that are the skin's colour in light or shadow (a multiple
    of it, within `step` of it per channel)."""
    skin = skin.astype(np.float32)
    k = (rgb.astype(np.float32) @ skin) / float(skin @ skin)
    off = np.abs(rgb - k[..., None] * skin).max(-1)
    return np.asarray((off < step) & (k > SKIN_SHADE_RANGE[0]) & (k < SKIN_SHADE_RANGE[1]))


def _flat_eye_pieces(
    box: np.ndarray, luma: np.ndarray, mesh_opening: np.ndarray, skin: np.ndarray | None = None
) -> np.ndarray:
    """The parts of a flat-coloured eye around the mesh's eye in a box of the image: (H, W) bool.

    Flat art is areas of one colour meeting at sharp edges. The areas of the colours common
    on the box's edge, as far as the edge reaches through them, are outside the eye: skin in
    its shades, hair, the strokes joined to them. Of the rest, near-black strokes (outline,
    lashes) and thin anti-aliased rims are dropped; the pieces left that overlap the mesh's
    eye, and those up to PIECE_GAP_PX beside them, are the eye: sclera, iris, highlights, split
    by the strokes drawn round the iris."""
    rgb = box.astype(np.int16)
    edge = box_edge(luma.shape)
    rim = rgb[edge]
    keys = (rim // 16) @ np.array([256, 16, 1])
    found, counts = np.unique(keys, return_counts=True)
    outside = np.zeros_like(edge)
    for key in found[counts >= EDGE_COLOUR_SHARE * len(rim)]:
        colour = np.median(rim[keys == key], axis=0)
        alike = np.abs(rgb - colour).max(-1) < FLAT_STEP
        outside |= flood(edge & alike, alike)
    if skin is not None:  # the skin between a drawn eye and a crease or lash line above it
        # (areas of it, not the thin rim where a line's edge blends into the skin)
        outside |= _dilate(_erode(skin_shade(rgb, skin), 1), 1)
    chroma = rgb.max(-1) - rgb.min(-1)
    stroke = _strokes(luma) & (chroma < STROKE_CHROMA)
    rest = _dilate(_erode(~outside & ~stroke, 1), 1) & ~outside & ~stroke
    x0, x1 = mesh_opening[:, 0].min(), mesh_opening[:, 0].max()
    y0, y1 = mesh_opening[:, 1].min(), mesh_opening[:, 1].max()
    near = np.zeros_like(rest)
    near[max(int(y0), 0) : int(y1) + 1, max(int(x0), 0) : int(x1) + 1] = True
    pieces = flood(rest & near, rest)
    if pieces.sum() < 8:
        return pieces
    # And the pieces just beside them: the sclera left and right of a dark iris's rim.
    hull = _hull_mask(pieces)
    beside = hull.copy()
    for step in range(1, PIECE_GAP_PX + 1):
        beside[:, step:] |= hull[:, :-step]
        beside[:, :-step] |= hull[:, step:]
    pieces = flood(rest & beside, rest)
    # Their thin ends too (the white tapering into an eye's corners), where light: the rims
    # along the strokes are mid-grey.
    light = ~outside & ~stroke & (luma >= IRIS_OF_SCLERA * _bright(luma))
    return pieces | flood(pieces & light, light)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return ~_erode(~mask, radius)


def _grown(mask: np.ndarray, px: int) -> np.ndarray:
    """A box's mask grown by `px` all round, to the box's border (which _dilate takes in)."""
    return _dilate(np.pad(mask, px), px)[px:-px, px:-px]


def _lid_contours(opening: np.ndarray, bx0: int, by0: int) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom of an opening mask at LID_COLUMNS columns across it, corner to corner."""
    columns = np.flatnonzero(opening.any(0))
    xs = np.linspace(columns[0], columns[-1], LID_COLUMNS)
    upper, lower = [], []
    for x in xs:
        rows = np.flatnonzero(opening[:, int(round(x))])
        upper.append((x + bx0, rows[0] + by0 - 0.5))
        lower.append((x + bx0, rows[-1] + by0 + 0.5))
    # At the corners the lids meet.
    for i in (0, -1):
        y = 0.5 * (upper[i][1] + lower[i][1])
        upper[i], lower[i] = (upper[i][0], y), (lower[i][0], y)
    return np.asarray(upper, np.float64), np.asarray(lower, np.float64)


def _iris(
    luma: np.ndarray, opening: np.ndarray, sclera: np.ndarray, bx0: int, by0: int
) -> tuple[np.ndarray, float]:
    """The iris: the opening's pixels well darker than its sclera, inside its outline."""
    inner = _erode(opening, 2)
    sclera_luma = float(np.median(luma[sclera]))
    iris = inner & (luma < IRIS_OF_SCLERA * sclera_luma)
    if iris.sum() < 8:
        return np.zeros(2), 0.0
    ys, xs = np.nonzero(iris)
    left, right = np.percentile(xs, [3, 97])
    top, bottom = np.percentile(ys, [3, 97])
    centre = np.array([0.5 * (left + right) + bx0, 0.5 * (top + bottom) + by0])
    # The decoder moves a disc: one round the whole iris, which art draws taller than wide (a
    # disc of its width left its top and bottom behind as a second iris).
    return centre, float(0.5 * max(right - left, bottom - top) + 0.5)


def box_edge(shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool: a box's outermost rows and columns."""
    edge = np.zeros(shape[:2], bool)
    edge[[0, -1], :], edge[:, [0, -1]] = True, True
    return edge


def off_edge(mask: np.ndarray) -> np.ndarray:
    """A box's `mask` (H, W) less what of it is joined to the box's edge (hair, the face's
    outline, clothes running through it)."""
    return mask & ~flood(mask & box_edge(mask.shape), mask)


def flood(seeds: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """The `allowed` pixels 4-connected to `seeds` (both (H, W) bool)."""
    region = seeds & allowed
    while True:
        grown = region.copy()
        grown[1:] |= region[:-1]
        grown[:-1] |= region[1:]
        grown[:, 1:] |= region[:, :-1]
        grown[:, :-1] |= region[:, 1:]
        grown &= allowed
        if (grown == region).all():
            return region
        region = grown


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels whose (2 radius + 1)-square neighbourhood lies wholly in `mask`."""
    padded = np.pad(mask, radius, constant_values=False)
    out = np.ones_like(mask)
    h, w = mask.shape
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out &= padded[dy : dy + h, dx : dx + w]
    return out


def hull_chain(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Of points (x, y) sorted by x, the convex hull's chain on their least-y side (Andrew's
    monotone chain); of the points in reverse order, the chain on the other side."""
    chain: list[tuple[float, float]] = []
    for p in points:
        while len(chain) >= 2:
            (ax, ay), (bx, by) = chain[-2], chain[-1]
            if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                break
            chain.pop()
        chain.append(p)
    return chain


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """(K, 2) counter-clockwise hull of (P, 2) points (Andrew's monotone chain)."""
    pts = sorted({(float(x), float(y)) for x, y in points})
    if len(pts) < 3:
        return np.asarray(pts)
    lower, upper = hull_chain(pts), hull_chain(pts[::-1])
    return np.asarray(lower[:-1] + upper[:-1])


def _fill_polygon(polygon: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool: pixel centres inside a closed polygon (even-odd rule)."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    inside = np.zeros(shape[:2], dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        crosses = (y0 > ys) != (y1 > ys)
        x_at = (x1 - x0) * (ys - y0) / (y1 - y0 + 1e-9) + x0
        inside ^= crosses & (xs < x_at)
    return inside
