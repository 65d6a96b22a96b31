"""The face rig: how motion-space coefficients move a particular portrait, and the inverse.

`estimate_motion` reads a portrait's own pose and expression from its 478 landmarks.
`build_rig` precomputes, once per avatar, everything the decoder needs: sample points (a coarse
grid over the crop plus the landmarks) in canonical head coordinates, one displacement field per
non-rigid coefficient, the head/neck weight, and the mouth-interior palette.

Both sides use the same calibration constants below, so that an estimated coefficient and a
rendered coefficient mean the same thing: e.g. jawOpen = 1 separates the inner lips by
JAW_GAP_PER_UNIT mouth widths, whatever the portrait's own opening was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import face_topology as ft
from models import motion_space as ms
from models.drawn_eye import find_drawn_eye, luma_of, saturation_of, skin_shade
from models.eye_opening import raise_upper_lid
from models.geometry import euler_from_matrix
from models.rig_calibration import (
    EYE_OPEN_ASPECT,
    EYE_WIDE_PER_UNIT,
    FROWN_DROP_PER_UNIT,
    GAZE_X_PER_UNIT,
    GAZE_Y_PER_UNIT,
    GAZE_Y_REST,
    JAW_GAP_PER_UNIT,
    PITCH_BIAS_RAD,
    SMILE_LIFT_PER_UNIT,
    SMILE_NEUTRAL_LIFT,
)
from models.rig_regions import (
    JAW_CLOSE_FIELD,
    FaceMeasures,
    brow_bases,
    cheek_bases,
    eye_bases,
    head_weight,
    measure,
    mouth_bases,
    seam_points,
)

CROP_PX = 512
GRID_SIZE = 128  # rig grid resolution over the crop; the decoder upsamples its field to CROP_PX
REFERENCE_FACE_WIDTH_FRAC = 0.4  # scale = log(face width / (0.4 * crop))


def _clip01(value: float) -> float:
    return float(np.clip(value, 0.0, 1.0))


def _pose(m: FaceMeasures) -> dict[str, float]:
    yaw, pitch, roll = euler_from_matrix(m.rotation)
    return {
        "yaw": yaw,
        "pitch": pitch - PITCH_BIAS_RAD,
        "roll": roll,
        "tx": (m.center[0] - CROP_PX / 2) / CROP_PX,
        "ty": (m.center[1] - CROP_PX / 2) / CROP_PX,
        "scale": float(np.log(m.face_width / (REFERENCE_FACE_WIDTH_FRAC * CROP_PX))),
    }


def _mouth(m: FaceMeasures) -> dict[str, float]:
    lc = m.canonical
    gap = max(lc[ft.INNER_LIP_LOWER_MID, 1] - lc[ft.INNER_LIP_UPPER_MID, 1], 0.0)
    mid_y = 0.5 * (lc[ft.INNER_LIP_LOWER_MID, 1] + lc[ft.INNER_LIP_UPPER_MID, 1])
    values = {"jawOpen": _clip01(gap / (JAW_GAP_PER_UNIT * m.mouth_width))}
    for side, corner in (("Left", ft.MOUTH_CORNER_LEFT), ("Right", ft.MOUTH_CORNER_RIGHT)):
        lift = (mid_y - lc[corner, 1]) / m.mouth_width
        values[f"mouthSmile{side}"] = _clip01((lift - SMILE_NEUTRAL_LIFT) / SMILE_LIFT_PER_UNIT)
        values[f"mouthFrown{side}"] = _clip01(-lift / FROWN_DROP_PER_UNIT)
    return values


def eye_aspect_ratio(
    landmarks: np.ndarray, pairs: tuple[tuple[int, int], ...], corners: tuple[int, int]
) -> float:
    """Mean upper-lower lid distance over the corner-to-corner width (2-D)."""
    xy = landmarks[:, :2]
    vertical = np.mean([np.linalg.norm(xy[a] - xy[b]) for a, b in pairs])
    return float(vertical / np.linalg.norm(xy[corners[0]] - xy[corners[1]]))


def _eyes(m: FaceMeasures) -> dict[str, float]:
    values: dict[str, float] = {}
    gaze_x, gaze_y = [], []
    eyes = (
        ("Left", ft.EYE_LEFT_VERTICAL_PAIRS, ft.EYE_LEFT_CORNERS, ft.IRIS_LEFT[0], (386, 374)),
        ("Right", ft.EYE_RIGHT_VERTICAL_PAIRS, ft.EYE_RIGHT_CORNERS, ft.IRIS_RIGHT[0], (159, 145)),
    )
    for side, pairs, corners, iris, (lid_up, lid_low) in eyes:
        ratio = eye_aspect_ratio(m.canonical, pairs, corners) / EYE_OPEN_ASPECT
        values[f"eyeBlink{side}"] = _clip01(1.0 - ratio)
        values[f"eyeWide{side}"] = _clip01((ratio - 1.0) / EYE_WIDE_PER_UNIT)
        a, b = m.canonical[corners[0], :2], m.canonical[corners[1], :2]
        width = float(np.linalg.norm(b - a))
        centre_x = 0.5 * (a[0] + b[0])
        centre_y = 0.5 * (m.canonical[lid_up, 1] + m.canonical[lid_low, 1])
        gaze_x.append((m.canonical[iris, 0] - centre_x) / width / GAZE_X_PER_UNIT)
        gaze_y.append(((m.canonical[iris, 1] - centre_y) / width - GAZE_Y_REST) / GAZE_Y_PER_UNIT)
    values["eyeLookX"] = float(np.clip(np.mean(gaze_x), -1, 1))
    values["eyeLookY"] = float(np.clip(np.mean(gaze_y), -1, 1))
    return values


def estimate_motion(landmarks_px: np.ndarray) -> np.ndarray:
    """A portrait's own motion frame from its (478, 3) landmarks in crop pixels.

    Brows, cheeks and the lip shapes without a reliable 2-D cue are taken as neutral.
    """
    m = measure(landmarks_px)
    values = {**_pose(m), **_mouth(m), **_eyes(m)}
    return ms.clip(ms.with_fields(ms.neutral_frame(), **values))


def _grid_points(grid_size: int) -> np.ndarray:
    step = CROP_PX / grid_size
    centres = (np.arange(grid_size) + 0.5) * step - 0.5  # pixel-centre coordinates
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)  # (G*G, 2)


def _depth(
    points_xy: np.ndarray, landmarks_px: np.ndarray, far_depth: float, sigma_px: float
) -> np.ndarray:
    """Depth of points: landmark depths blended by distance, `far_depth` far from them."""
    d2 = ((points_xy[:, None, :] - landmarks_px[None, :, :2]) ** 2).sum(-1)  # (N, 478)
    weights = np.exp(-0.5 * d2 / sigma_px**2)
    far_weight = np.exp(-0.5 * 2.0**2)
    z = (weights @ landmarks_px[:, 2] + far_weight * far_depth) / (weights.sum(1) + far_weight)
    return z.astype(np.float32)


def polygon_mask(polygon_xy: np.ndarray, size: int) -> np.ndarray:
    """Even-odd fill of a closed polygon over a size x size pixel grid (pixel centres)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    inside = np.zeros((size, size), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon_xy, np.roll(polygon_xy, -1, axis=0), strict=True):
        crosses = (y0 > ys) != (y1 > ys)
        x_at = (x1 - x0) * (ys - y0) / (y1 - y0 + 1e-9) + x0
        inside ^= crosses & (xs < x_at)
    return inside


TYPICAL_SKIN_HUE = np.array([1.22, 0.97, 0.81])  # rgb over its mean, of skin in neutral light


def _palette(
    image: np.ndarray, landmarks_px: np.ndarray, own_teeth: np.ndarray | None
) -> np.ndarray:
    """(3, 3) float colours in [0, 1]: teeth, cavity, tongue, matched to the portrait's light;
    the teeth `own_teeth` (_own_teeth_colour) where the portrait shows its own."""
    rgb = image.astype(np.float32) / 255.0
    face = polygon_mask(landmarks_px[list(ft.FACE_OVAL), :2], CROP_PX)
    outer = polygon_mask(
        landmarks_px[list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER[::-1]), :2], CROP_PX
    )
    inner = polygon_mask(
        landmarks_px[list(ft.LIPS_INNER_UPPER + ft.LIPS_INNER_LOWER[::-1]), :2], CROP_PX
    )
    skin = rgb[face & ~outer].mean(0)
    lips = rgb[outer & ~inner].mean(0) if (outer & ~inner).any() else skin * [0.9, 0.6, 0.6]
    brightness = float(skin.mean())
    # Teeth take the light on the face (its skin against a typical skin's hue) and sit below
    # paper white: pure white teeth looked pasted onto a varnished
    # painting. The face's, not the whole picture's: a green backdrop made the teeth green.
    skin_hue = skin / max(float(skin.mean()), 1e-6)
    cast = np.clip(skin_hue / TYPICAL_SKIN_HUE, 0.7, 1.3) ** 0.75
    level = min(0.88, 0.3 + 1.0 * brightness)
    teeth = np.array([1.0, 0.97, 0.9]) * cast * level
    # Ivory takes a little of the lips' warmth (a neutral ivory read as grey-green on a
    # varnished painting); a portrait that shows its own teeth gives their colour outright.
    teeth = 0.88 * teeth + 0.12 * lips * (teeth.mean() / max(float(lips.mean()), 1e-6))
    teeth = np.clip(teeth if own_teeth is None else own_teeth, 0, 1)
    # The cavity and tongue are mucosa: half the portrait's own lip colour, half a dark red, so
    # a pale or grey-lipped portrait still opens onto a warm mouth rather than a grey hole.
    mucosa = 0.5 * lips + 0.5 * np.array([0.62, 0.2, 0.2])
    # The cavity is the mouth's back wall in shadow, not a black hole: real talking mouths show
    # 1-28 % dark pixels between the lips (tests/face_metrics.open_mouth_interior).
    # The tongue is lighter and pinker than the walls around it.
    tongue = 0.6 * lips + 0.4 * np.array([0.8, 0.42, 0.42])
    return np.stack([teeth, mucosa * 0.6, tongue * 0.9]).astype(np.float32)


def _eye_interiors(shapes: list[EyeShape]) -> np.ndarray:
    """(H, W) float32: +1 inside the left eye's opening, -1 inside the right eye's, 0 elsewhere."""
    out = np.zeros((CROP_PX, CROP_PX), np.float32)
    for sign, shape in zip((1.0, -1.0), shapes, strict=True):
        # Soft and a little inside the contour: an iris moved up to a hard polygon edge
        # showed its cut as a step, and the mesh's contour strays onto painted lids.
        soft = _box_blur(_box_blur(shape.opening.astype(np.float32)))
        out += sign * np.clip((soft - 0.3) / 0.5, 0.0, 1.0)
    return out


def _box_blur(plane: np.ndarray) -> np.ndarray:
    """3 x 3 box average, edges repeated."""
    padded = np.pad(plane, 1, mode="edge")
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    return np.asarray((rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / 9.0, np.float32)


@dataclass(frozen=True)
class EyeShape:
    """One eye's lids, opening and iris in crop pixels: the mesh's, or the drawn eye's where
    stylised art outlines an eye the mesh does not fit (models/drawn_eye.py)."""

    upper: np.ndarray  # (M, 2) upper lid contour
    lower: np.ndarray  # (M, 2) lower lid contour
    opening: np.ndarray  # (H, W) bool
    iris_centre: np.ndarray  # (2,)
    iris_radius: float  # px: the mesh's iris circle, or half the drawn iris's width
    drawn: bool
    # px: the disc the decoder moves as the iris: segmented across the iris's row on a photo
    # or painting (_iris_radius), the drawn iris's own radius on drawn art
    disc_radius: float


def eye_shapes(
    image: np.ndarray, landmarks_px: np.ndarray, skin: np.ndarray | None = None
) -> list[EyeShape]:
    """The left and right eye's shapes. `skin`: face_skin(image, landmarks_px), where the
    caller has it already."""
    shapes = []
    skin = skin if skin is not None else face_skin(image, landmarks_px)
    for upper_ids, lower_ids, iris_ids in (
        (ft.EYE_LEFT_UPPER, ft.EYE_LEFT_LOWER, ft.IRIS_LEFT),
        (ft.EYE_RIGHT_UPPER, ft.EYE_RIGHT_LOWER, ft.IRIS_RIGHT),
    ):
        upper = landmarks_px[list(upper_ids), :2].astype(np.float64)
        lower = landmarks_px[list(lower_ids), :2].astype(np.float64)
        iris = landmarks_px[list(iris_ids), :2].astype(np.float64)
        contour = np.concatenate([upper, lower[::-1]])
        drawn = find_drawn_eye(image, contour, iris, skin)
        if drawn is not None:
            shapes.append(
                EyeShape(
                    drawn.upper,
                    drawn.lower,
                    drawn.opening,
                    drawn.iris_centre,
                    drawn.iris_radius,
                    True,
                    drawn.iris_radius,  # segmented already, the darker part of the opening
                )
            )
            continue
        radius = float(np.mean(np.linalg.norm(iris[1:] - iris[0], axis=1)))
        opening = polygon_mask(contour, CROP_PX)
        x0, x1 = float(upper[:, 0].min()), float(upper[:, 0].max())
        segmented = _iris_radius(image, iris[0], radius, x0, x1)
        raised = raise_upper_lid(image, upper, opening, iris[0], segmented, skin)
        if not np.array_equal(raised, upper):  # a wide-open eye: its lid on the white's edge
            upper = raised
            opening = polygon_mask(np.concatenate([upper, lower[::-1]]), CROP_PX)
        shapes.append(EyeShape(upper, lower, opening, iris[0], radius, False, segmented))
    return shapes


def with_drawn_gaze(motion: np.ndarray, shapes: list[EyeShape]) -> np.ndarray:
    """The portrait's own motion with its gaze read from the drawn eyes, where art outlines them.

    estimate_motion reads gaze off the mesh's iris against the mesh's eye, which on big drawn
    eyes sits in a band under the lash line: the anime portrait, drawn looking at the viewer,
    read eyeLookX +0.54, so at eyeLookX 0 its irises looked aside. The drawn eye's own iris
    against its own opening gives the gaze in the same units (eye widths per GAZE_*_PER_UNIT).
    """
    if not all(shape.drawn for shape in shapes):
        return motion
    gaze_x, gaze_y = [], []
    for shape in shapes:
        rows, cols = np.nonzero(shape.opening)
        width = float(max(cols.max() - cols.min(), 1))
        iris_x, iris_y = (float(v) for v in shape.iris_centre)
        near = np.abs(cols - iris_x) <= 0.5 * shape.iris_radius  # the opening's rows at the iris
        middle_y = 0.5 * float(rows[near].min() + rows[near].max()) if near.any() else iris_y
        gaze_x.append((iris_x - 0.5 * float(cols.min() + cols.max())) / width / GAZE_X_PER_UNIT)
        gaze_y.append((iris_y - middle_y) / width / GAZE_Y_PER_UNIT)
    out = motion.copy()
    out[ms.INDEX["eyeLookX"]] = float(np.clip(np.mean(gaze_x), -1.0, 1.0))
    out[ms.INDEX["eyeLookY"]] = float(np.clip(np.mean(gaze_y), -1.0, 1.0))
    return out


# Per-eye geometry in the portrait's pixels, one row per eye (left, right), for the decoder's
# eye layer. Lid curves are quartics in u = (x - x0) / (x1 - x0), the eye's corner extent.
# x0, x1, upper lid c0..c4, lower lid c0..c4, lid zone, iris x, y, r, drawn (1: the eye as
# outlined in stylised art, models/drawn_eye.py; its lids close as flat shapes)
EYE_GEOMETRY_COLUMNS = 17
LID_ZONE_PER_BROW = 0.7  # the lid zone: this much of the way from the lash line to the brow
LID_ZONE_MAX_PX = 22.0  # ... and no taller, so it stays inside the decoder's eye window
# A white hat, light hair or a headscarf low over an eye is not lid skin: a colour brighter
# than the face's skin by LID_COVER_BRIGHTER and LID_COVER_DISTANCE from it (relative to the
# skin's brightness; a straw brim over brown skin is 0.4-0.6). The lid zone stops
# LID_COVER_MARGIN_PX below it and the closed lid's colour leaves it out: a closing lid
# dragged it down over the eye. (Colours near the skin's, or darker, are left to the brow
# rule: a lash liner or a photo's crease is as far from the skin as dark hair is.)
LID_COVER_BRIGHTER = 1.3
LID_COVER_DISTANCE = 0.35
LID_COVER_MARGIN_PX = 3  # the zone stops this far below the first covered row (its soft edge)
COVER_RUNS_ON = 0.8  # ... where this share of the rows from it up to the brow are covered too


def _curve_fit(contour: np.ndarray, x0: float, x1: float) -> np.ndarray:
    """(5,) least-squares quartic y(u) through a lid contour (M, 2), u = (x - x0) / (x1 - x0)."""
    u = (contour[:, 0] - x0) / max(x1 - x0, 1e-6)
    vandermonde = np.stack([u**k for k in range(5)], axis=1)  # (M, 5)
    # A little ridge keeps a quartic through 9 points from waving between them.
    gram = vandermonde.T @ vandermonde + 1e-3 * np.eye(5)
    return np.asarray(np.linalg.solve(gram, vandermonde.T @ contour[:, 1]), np.float32)


def _iris_radius(
    image: np.ndarray, centre: np.ndarray, mesh_radius: float, x0: float, x1: float
) -> float:
    """The iris's radius in px, segmented on the row through its centre.

    The mesh's iris circle stops inside the dark limbal ring; moved by it, an iris left a ring
    behind. Out from the centre, left and right, the iris ends where the row first gets
    brighter than halfway from the iris to the sclera; kept within 0.9-1.5 of the mesh's."""
    cx, cy = centre
    row = image[int(np.clip(round(cy), 0, CROP_PX - 1))].astype(np.float32).mean(-1)  # (W,)
    xs = np.arange(CROP_PX, dtype=np.float64)
    edges = []
    for side in (-1.0, 1.0):
        end = x0 if side < 0 else x1
        reach = np.clip(np.arange(0.0, abs(end - cx), 0.5), 0.0, None)  # px out from the centre
        if len(reach) < 4:
            continue
        profile = np.interp(cx + side * reach, xs, row)
        dark, bright = float(np.min(profile[: max(len(profile) // 3, 1)])), float(np.max(profile))
        if bright - dark < 20.0:
            continue  # no sclera on this side to tell the iris from
        # Brighter for three samples running (1.5 px): a catchlight inside the iris is not it.
        bright_run = profile > 0.5 * (dark + bright)
        bright_run = bright_run[:-2] & bright_run[1:-1] & bright_run[2:]
        beyond = np.flatnonzero(bright_run & (reach[:-2] > 0.85 * mesh_radius))
        if len(beyond):
            edges.append(float(reach[beyond[0]]))
    radius = float(np.mean(edges)) if edges else 1.15 * mesh_radius
    return float(np.clip(radius, 0.9 * mesh_radius, 1.5 * mesh_radius))


def _sorted(contour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(contour[:, 0])
    return contour[order, 0], contour[order, 1]


def eye_geometry(
    image: np.ndarray, shapes: list[EyeShape], landmarks_px: np.ndarray, skin: np.ndarray
) -> np.ndarray:
    """(2, EYE_GEOMETRY_COLUMNS) float32: lids, lid zone and iris of the left and right eye.

    The lid zone is the skin between the lash line and the brow that a closing lid drags
    down: LID_ZONE_PER_BROW of the lid-to-brow distance at the eye's middle, and below
    anything covering the lid (_covers, against the face's `skin`, face_skin)."""
    rows = []
    for shape, brow_ids in zip(shapes, (ft.BROW_LEFT_LOWER, ft.BROW_RIGHT_LOWER), strict=True):
        upper, lower = shape.upper, shape.lower
        x0, x1 = float(upper[:, 0].min()), float(upper[:, 0].max())
        mid_x = 0.5 * (x0 + x1)
        lid_y = float(np.interp(mid_x, *_sorted(upper)))
        brow_y = float(np.interp(mid_x, *_sorted(landmarks_px[list(brow_ids), :2])))
        zone = float(np.clip(LID_ZONE_PER_BROW * (lid_y - brow_y), 2.0, LID_ZONE_MAX_PX))
        if not shape.drawn:
            zone = min(zone, _uncovered_height(image, shape, skin, lid_y - brow_y))
        centre, radius = shape.iris_centre, shape.disc_radius
        lids = np.concatenate([_curve_fit(upper, x0, x1), _curve_fit(lower, x0, x1)])
        drawn = float(shape.drawn)
        rows.append(np.concatenate([[x0, x1], lids, [zone, centre[0], centre[1], radius, drawn]]))
    return np.asarray(rows, np.float32)


def _eye_colours(image: np.ndarray, shapes: list[EyeShape]) -> np.ndarray:
    """(4, 3) in 0..1: left and right sclera, then left and right iris, from the portrait.

    What an iris moved aside uncovers (sclera), and what shows of an iris where the portrait
    hid it under a lid (its mean colour)."""
    rgb = image.astype(np.float32) / 255.0
    ys, xs = np.mgrid[0:CROP_PX, 0:CROP_PX].astype(np.float32)
    sclera, irises = [], []
    for shape in shapes:
        (cx, cy), radius = shape.iris_centre, shape.iris_radius
        d = np.hypot(xs - cx, ys - cy)
        white, dark = shape.opening & (d > radius + 1.0), shape.opening & (d < 0.8 * radius)
        skin = rgb[
            max(int(cy - 3 * radius), 0) : int(cy - 2 * radius) + 1,
            max(int(cx - radius), 0) : int(cx + radius) + 1,
        ]
        skin_mean = skin.reshape(-1, 3).mean(0) if skin.size else rgb.reshape(-1, 3).mean(0)
        # Sclera: the median of what is left of the opening (its corners lie in shadow, and
        # the brighter half, used where the iris left, showed as light patches on paintings).
        # A drawn eye's big iris leaves little but its outline: there the brightest quarter (the
        # median filled a clip-art iris's trail with the brown of its outline).
        if white.sum() >= 4:
            pixels = rgb[white]
            if shape.drawn:
                luma = pixels.sum(-1)
                pixels = pixels[luma >= np.percentile(luma, 75.0)]
            sclera.append(np.median(pixels, axis=0))
        else:
            sclera.append(0.85 * skin_mean + 0.1)
        irises.append(np.median(rgb[dark], axis=0) if dark.sum() >= 4 else 0.4 * skin_mean)
    return np.asarray(sclera + irises, np.float32)


def face_skin(image: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """(3,) the face's skin colour, 0..255: the median inside the face oval."""
    face = polygon_mask(landmarks_px[list(ft.FACE_OVAL), :2], CROP_PX)
    pixels = image[face] if face.any() else image.reshape(-1, 3)
    return np.asarray(np.median(pixels.astype(np.float32), axis=0))


def _covers(colours: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(...) bool: colours (..., 3) that cover the face rather than show its skin (see
    LID_COVER_BRIGHTER)."""
    colours = colours.astype(np.float32)
    distance = np.linalg.norm(colours - skin, axis=-1) / (np.linalg.norm(skin) + 30.0)
    brighter = colours.sum(-1) > LID_COVER_BRIGHTER * float(skin.sum())
    return np.asarray(brighter & (distance > LID_COVER_DISTANCE))


def _uncovered_height(
    image: np.ndarray, shape: EyeShape, skin: np.ndarray, brow_px: float
) -> float:
    """px above the lash line (2 to LID_ZONE_MAX_PX) before the lid is covered, row by row
    up over the middle half of the eye (its median colour, _covers), by a cover that runs on
    up to the brow (`brow_px` above the lash line at the eye's middle) over COVER_RUNS_ON of
    its rows: a hat or hair over the lid covers the brow too, where a 3D render's light on
    the lid is a band under a brow in shade (that band is lid, and closes with it)."""
    x0, x1 = float(shape.upper[:, 0].min()), float(shape.upper[:, 0].max())
    columns = np.arange(round(x0 + 0.25 * (x1 - x0)), round(x0 + 0.75 * (x1 - x0)) + 1)
    columns = np.clip(columns, 0, CROP_PX - 1)
    lash_y = np.interp(columns, *_sorted(shape.upper))
    top = int(np.clip(round(brow_px), LID_ZONE_MAX_PX, 2 * LID_ZONE_MAX_PX))
    covered = []
    for height in range(1, top + 1):
        rows = np.clip(np.round(lash_y - height), 0, CROP_PX - 1).astype(int)
        covered.append(bool(_covers(np.median(image[rows, columns], axis=0), skin)))
    for height in range(1, int(LID_ZONE_MAX_PX) + 1):
        if covered[height - 1] and np.mean(covered[height - 1 :]) >= COVER_RUNS_ON:
            return float(max(height - LID_COVER_MARGIN_PX, 2))
    return LID_ZONE_MAX_PX


LID_COLOUR_BIN = 8  # a drawn lid's colour: its band's commonest, in bins this wide per channel
LID_SKIN_LEAST = 8  # ... of its pixels in the skin's shades, where at least this many are


def _lid_colours(image: np.ndarray, shapes: list[EyeShape], skin: np.ndarray) -> np.ndarray:
    """(2, 3) skin colour just above each eye (left, right): what a closed lid shows.

    The mean over a band above the lid, leaving out what covers it (_covers); over a drawn
    eye the commonest colour of its lighter half's skin (or of that half, where none of it is
    in the skin's shades), since the band there takes in the thick lash line that a closed
    lid moves down, not lid skin."""
    colours = []
    for shape in shapes:
        lid = shape.upper
        height = max(float(np.ptp(lid[:, 0])) * 0.25, 2.0)
        band = np.concatenate([lid - [0, height], lid[::-1] - [0, 0.3 * height]])
        mask = polygon_mask(band, CROP_PX)
        pixels = (image[mask] if mask.any() else image.reshape(-1, 3)).astype(np.float32)
        if shape.drawn:  # the lighter half: skin, not the lash line or hair over it
            luma = pixels.mean(-1)
            pixels = pixels[luma >= np.median(luma)]
            # ... and of that the skin in its shades, where there is some: on shaded anime the
            # skin there is a gradient, no one colour of it common, and a flat blush or a
            # strand of hair in the band won
            shade = skin_shade(pixels, skin)
            pixels = pixels[shade] if shade.sum() >= LID_SKIN_LEAST else pixels
            # ... and of that its commonest colour: flat art's skin is one colour, and the
            # median took in the light halo a resize leaves round a dark stroke (a dot eye
            # closed to a lid lighter than the face).
            bins = (pixels // LID_COLOUR_BIN).astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
            values, counts = np.unique(bins, return_counts=True)
            pixels = pixels[bins == values[np.argmax(counts)]]
        else:
            uncovered = ~_covers(pixels, skin)
            pixels = pixels[uncovered] if uncovered.sum() >= 4 else pixels
        colours.append(np.median(pixels, axis=0) / 255.0 if shape.drawn else pixels.mean(0) / 255.0)
    return np.asarray(colours, np.float32)


def _tooth_like(image: np.ndarray, landmarks_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool masks: inside the inner lips, and tooth-like (bright and less saturated
    than the face's skin, as tests/face_metrics.py counts teeth)."""
    inner = polygon_mask(
        landmarks_px[list(ft.LIPS_INNER_UPPER + ft.LIPS_INNER_LOWER[::-1]), :2], CROP_PX
    )
    face = polygon_mask(landmarks_px[list(ft.FACE_OVAL), :2], CROP_PX)
    rgb = image.astype(np.float32)
    luma = luma_of(rgb)
    saturation = saturation_of(rgb)
    skin_luma = float(np.median(luma[face & ~inner]))
    skin_saturation = float(np.median(saturation[face & ~inner]))
    teeth = (luma >= 0.7 * skin_luma) & (saturation <= max(0.75 * skin_saturation, 0.12))
    return inner, teeth


def _shows_upper_teeth(inner: np.ndarray, teeth: np.ndarray) -> float:
    """0..1: how far the portrait's own upper teeth show between its lips (a smile's teeth).

    Tooth-like pixels in the inner lips (_tooth_like's masks), against the share a full row
    shows. The decoder paints no second row under them."""
    if inner.sum() < 8:
        return 0.0
    return float(np.clip((teeth & inner).sum() / inner.sum() / 0.5, 0.0, 1.0))


def flatness(image: np.ndarray, landmarks_px: np.ndarray) -> float:
    """0..1: how far the portrait is flat art (anime, cel shading): the share of its skin
    pixels that differ from their right and lower neighbours by at most one level, rising
    from 0.3 (photos and paintings: 0.01-0.2, a smooth vector cartoon ~0.45) to 0.7 (~1)."""
    face = polygon_mask(landmarks_px[list(ft.FACE_OVAL), :2], CROP_PX)
    outer = polygon_mask(
        landmarks_px[list(ft.LIPS_OUTER_UPPER + ft.LIPS_OUTER_LOWER[::-1]), :2], CROP_PX
    )
    rgb = image.astype(np.int16)
    across = np.abs(rgb[:-1, 1:] - rgb[:-1, :-1]).max(-1)
    down = np.abs(rgb[1:, :-1] - rgb[:-1, :-1]).max(-1)
    skin = (face & ~outer)[:-1, :-1]
    if skin.sum() < 16:
        return 0.0
    level = float((np.maximum(across, down)[skin] <= 1).mean())
    return float(np.clip((level - 0.3) / 0.4, 0.0, 1.0))


def _own_teeth_colour(image: np.ndarray, inner: np.ndarray, teeth: np.ndarray) -> np.ndarray | None:
    """(3,) 0..1: the lit colour of the teeth the portrait shows (the mean of the brighter half
    of its tooth-like pixels, _tooth_like's masks), or None where it shows fewer than 12."""
    teeth = teeth & inner
    if teeth.sum() < 12 or teeth.sum() < 0.2 * inner.sum():
        return None
    pixels = image[teeth].astype(np.float32) / 255.0
    luma = luma_of(pixels)
    return np.asarray(pixels[luma >= np.median(luma)].mean(0), np.float32)


def _seam_fit(seam: np.ndarray) -> np.ndarray:
    """Least-squares quartic in u (0..1 corner to corner) through the seam points: (5, 11).

    The decoder fits each moved seam with it; the points' positions along the mouth are taken
    from the portrait, since opening the jaw moves them across the mouth very little.
    """
    along = seam[-1] - seam[0]
    u = (seam - seam[0]) @ along / (along @ along)
    vandermonde = np.stack([u**k for k in range(5)], axis=1)  # (11, 5)
    return np.linalg.pinv(vandermonde).astype(np.float32)


def build_rig(
    image: np.ndarray,
    landmarks_px: np.ndarray,
    person_alpha: np.ndarray,
    source_motion: np.ndarray,
    grid_size: int = GRID_SIZE,
    shapes: list[EyeShape] | None = None,
    skin: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Everything the decoder precomputes for one avatar (arrays only, saved with the avatar).

    `shapes` and `skin`: eye_shapes(image, landmarks_px) and face_skin(image, landmarks_px),
    where the caller has them already.
    """
    m = measure(landmarks_px)
    grid_xy = _grid_points(grid_size)
    grid_z = _depth(grid_xy, landmarks_px, m.center[2], 0.08 * m.face_height)
    inner_lips, tooth_like = _tooth_like(image, landmarks_px)
    teeth_shown = _shows_upper_teeth(inner_lips, tooth_like)
    seam = seam_points(m, teeth_shown)  # (11, 2) canonical
    seam_canonical = np.column_stack(
        [seam, np.full(len(seam), m.canonical[ft.INNER_LIP_UPPER_MID, 2])]
    )
    landmark_canonical = m.canonical
    grid_canonical = (np.column_stack([grid_xy, grid_z]) - m.center) @ m.rotation
    canonical = np.concatenate([grid_canonical, landmark_canonical, seam_canonical, seam_canonical])
    # (N, 3): grid points, the 478 landmarks, the lip seam as moved by the upper / lower jaw
    image_points = canonical @ m.rotation.T + m.center
    n_grid = grid_size * grid_size
    fields = {
        **mouth_bases(m, canonical, n_grid, teeth_shown),
        **brow_bases(m, canonical),
        **cheek_bases(m, canonical),
        **eye_bases(m, canonical, n_grid, source_motion),
    }
    basis = np.stack(
        [fields[name] for name in (*ms.NONRIGID_NAMES, JAW_CLOSE_FIELD)]
    )  # (K+1, N, 3)
    skin = skin if skin is not None else face_skin(image, landmarks_px)
    shapes = shapes if shapes is not None else eye_shapes(image, landmarks_px, skin)
    eyes = _eye_interiors(shapes)
    planes = np.concatenate(
        [
            image.astype(np.float32).transpose(2, 0, 1) + 0.5,
            person_alpha[None].astype(np.float32),
            eyes[None],
        ]
    )  # (5, H, W): rgb + 0.5 (the decoder's cast rounds), alpha 0..1, eyes (+1 L, -1 R)
    gap_px = landmarks_px[ft.INNER_LIP_LOWER_MID, 1] - landmarks_px[ft.INNER_LIP_UPPER_MID, 1]
    return {
        "grid_size": np.array(grid_size, dtype=np.int64),
        "source_planes": planes[None],  # (1, 5, H, W)
        "points_canonical": canonical.astype(np.float32),  # (N, 3)
        "points_source_xy": image_points[:, :2].astype(np.float32),  # (N, 2)
        "head_weight": head_weight(m, canonical).astype(np.float32)[:, None],  # (N, 1)
        "basis": basis.reshape(len(basis), -1).astype(np.float32),  # (K+1, N*3)
        "center": m.center.astype(np.float32),  # (3,)
        "mouth": np.array(
            [m.mouth_width, max(gap_px, 0.0), teeth_shown, flatness(image, landmarks_px)],
            dtype=np.float32,
        ),  # (4,) mouth width px, inner-lip gap px, 0..1 its upper teeth showing, flat art
        "seam_fit": _seam_fit(seam),  # (5, 11)
        "palette": np.concatenate(
            [
                _palette(image, landmarks_px, _own_teeth_colour(image, inner_lips, tooth_like)),
                _eye_colours(image, shapes),
                _lid_colours(image, shapes, skin),
            ]
        ),
        # (9, 3): teeth, cavity, tongue, left/right sclera, left/right iris, left/right lid
        "eye_geometry": eye_geometry(image, shapes, landmarks_px, skin),  # (2, 17) source px
    }
