"""Displacement fields of the face rig, one per non-rigid motion coefficient.

Every field is evaluated at arbitrary points given in canonical head coordinates (the portrait's
pixels with its own head rotation undone, origin at the head centre, y down) and returns the
(N, 3) displacement, in canonical pixels, that one unit of the coefficient causes. Regions are
built from the portrait's own landmarks, so the rig fits each face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import face_topology as ft
from models import motion_space as ms
from models.rig_calibration import (
    FROWN_DROP_PER_UNIT,
    GAZE_X_PER_UNIT,
    GAZE_Y_PER_UNIT,
    JAW_GAP_PER_UNIT,
    SMILE_LIFT_PER_UNIT,
)

_EPS = 1e-6


@dataclass(frozen=True)
class FaceMeasures:
    center: np.ndarray  # (3,) head rotation centre in crop pixels (depth of the ear line)
    rotation: np.ndarray  # (3, 3) canonical -> image
    canonical: np.ndarray  # (478, 3) landmarks in canonical coordinates
    face_width: float  # px, cheek edge to cheek edge
    face_height: float  # px, forehead top to chin
    mouth_width: float  # px, outer corner to outer corner


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / (np.linalg.norm(v) + _EPS))


def measure(landmarks_px: np.ndarray) -> FaceMeasures:
    lm = landmarks_px.astype(np.float64)
    x_axis = _unit(lm[ft.CHEEK_EDGE_LEFT] - lm[ft.CHEEK_EDGE_RIGHT])
    down = lm[ft.CHIN] - lm[ft.FOREHEAD_TOP]
    y_axis = _unit(down - (down @ x_axis) * x_axis)
    rotation = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)
    center = 0.5 * (lm[ft.CHEEK_EDGE_LEFT] + lm[ft.CHEEK_EDGE_RIGHT])
    canonical = (lm - center) @ rotation
    return FaceMeasures(
        center=center,
        rotation=rotation,
        canonical=canonical,
        face_width=float(
            np.linalg.norm(canonical[ft.CHEEK_EDGE_LEFT] - canonical[ft.CHEEK_EDGE_RIGHT])
        ),
        face_height=float(np.linalg.norm(canonical[ft.CHIN] - canonical[ft.FOREHEAD_TOP])),
        mouth_width=float(
            np.linalg.norm(
                canonical[ft.MOUTH_CORNER_LEFT, :2] - canonical[ft.MOUTH_CORNER_RIGHT, :2]
            )
        ),
    )


def smoothstep(edge0: float | np.ndarray, edge1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0 + _EPS), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


def gaussian(points: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    d2 = ((points[:, :2] - centre[:2]) ** 2).sum(1)
    return np.asarray(np.exp(-0.5 * d2 / sigma**2))


def curve_y(points_x: np.ndarray, contour: np.ndarray) -> np.ndarray:
    """y of a contour (M, >=2) at the given x, flat beyond its ends."""
    order = np.argsort(contour[:, 0])
    return np.asarray(np.interp(points_x, contour[order, 0], contour[order, 1]))


def vec(
    weight: np.ndarray, dx: float | np.ndarray, dy: float | np.ndarray, dz: float | np.ndarray = 0.0
) -> np.ndarray:
    n = len(weight)
    return np.stack(
        [weight * dx * np.ones(n), weight * dy * np.ones(n), weight * dz * np.ones(n)], 1
    )


NECK_HALF_WIDTH = 0.28  # face widths from the face's middle line: the neck's, which turns


def head_weight(m: FaceMeasures, pts: np.ndarray) -> np.ndarray:
    """1 on the head, fading to 0 down the neck: the torso and background do not turn.

    Below the chin only the neck follows, fading out before the collar; the shoulders beside
    it stay rigid (they bent with every nod when the fade ran the full width of the frame).
    Beside the jaw, below the eyes, what lies out from the face's outline is the body's too
    (_beside_jaw): a space suit's collar ring, risen to the ears, turned with the head.
    """
    chin_y = m.canonical[ft.CHIN, 1]
    fw, fh = m.face_width, m.face_height
    down = smoothstep(chin_y + 0.02 * fh, chin_y + 0.3 * fh, pts[:, 1])
    below_chin = smoothstep(chin_y - 0.1 * fh, chin_y + 0.1 * fh, pts[:, 1])
    beside_neck = smoothstep(NECK_HALF_WIDTH * fw, 0.5 * fw, np.abs(pts[:, 0]))
    return np.asarray((1.0 - down) * (1.0 - below_chin * beside_neck) * (1.0 - _beside_jaw(m, pts)))


# Out from the face's outline, in face widths, where the body takes over beside the jaw; from
# the eyes' height (none) to halfway down to the chin (all).
BESIDE_JAW_FROM, BESIDE_JAW_TO = 0.06, 0.3


def _beside_jaw(m: FaceMeasures, pts: np.ndarray) -> np.ndarray:
    """0 on the face, the neck and above the eyes, rising to 1 out from the face's outline (or
    the neck's, where the jaw narrows to the chin) beside the jaw: BESIDE_JAW_FROM to
    BESIDE_JAW_TO face widths out across."""
    oval = m.canonical[list(ft.FACE_OVAL), :2]
    eyes_y = float(m.canonical[list(ft.EYE_LEFT_CORNERS + ft.EYE_RIGHT_CORNERS), 1].mean())
    chin_y = float(m.canonical[ft.CHIN, 1])
    x, y = pts[:, 0], pts[:, 1]
    out = np.zeros(len(pts))
    for side in (-1.0, 1.0):
        half = oval[oval[:, 0] * side > 0.0]
        order = np.argsort(half[:, 1])
        edge_x = np.interp(y, half[order, 1], half[order, 0]) * side  # px out from the middle
        edge_x = np.maximum(edge_x, NECK_HALF_WIDTH * m.face_width)  # the neck turns
        out = np.maximum(out, x * side - edge_x)
    across = smoothstep(BESIDE_JAW_FROM * m.face_width, BESIDE_JAW_TO * m.face_width, out)
    down = smoothstep(eyes_y, 0.5 * (eyes_y + chin_y), y)
    return np.asarray(across * down)


# --- mouth -----------------------------------------------------------------------------------

# Of the inner-lip gap, how much further than the midline towards the lower lip the jaw splits
# where the portrait fully shows its upper teeth: a pixel or two of the lower lip's inner edge
# rides on with the jaw.
TEETH_SEAM_SHIFT = 0.42


def _seam(m: FaceMeasures, teeth_shown: float = 0.0) -> np.ndarray:
    """The line between the inner lips that the lower jaw separates along: their midline, or,
    as far as the portrait shows its upper teeth (`teeth_shown`, 0..1), nearer the lower lip.

    Upper teeth are fixed to the skull: split at the midline, a smile's teeth tore in two as the
    jaw opened, their lower half riding down on the lower lip, with a dark crescent between.

    It ends at the outer mouth corners, where the lips join, not at the inner ones: on a
    portrait that smiles open-mouthed (cartoons) the inner corners sit well inside, and the
    jaw split the dark corners of the mouth between them and the outer corners along a line
    running flat on from the inner corner, which opened as dark cracks beside the interior."""
    upper = m.canonical[list(ft.LIPS_INNER_UPPER), :2]
    lower = m.canonical[list(ft.LIPS_INNER_LOWER), :2]
    split = 0.5 + TEETH_SEAM_SHIFT * float(np.clip(teeth_shown, 0.0, 1.0))
    seam = upper + split * (lower - upper)
    seam[0] = m.canonical[ft.MOUTH_CORNER_RIGHT, :2]
    seam[-1] = m.canonical[ft.MOUTH_CORNER_LEFT, :2]
    return seam


def _jaw_side(m: FaceMeasures, pts: np.ndarray, n_grid: int, teeth_shown: float) -> np.ndarray:
    """1 below the lip seam (moves with the jaw), 0 above; lip and seam points assigned exactly.

    The step is sharp between the lips and widens beyond the mouth corners, so the cheeks
    stretch instead of tearing along the seam line.
    """
    lc, mw = m.canonical, m.mouth_width
    mouth_cx = 0.5 * (lc[ft.MOUTH_CORNER_LEFT, 0] + lc[ft.MOUTH_CORNER_RIGHT, 0])
    beyond_corner = np.maximum(np.abs(pts[:, 0] - mouth_cx) - 0.5 * mw, 0.0)
    half_width = 1.0 + 1.5 * beyond_corner
    below = smoothstep(
        -half_width, half_width, pts[:, 1] - curve_y(pts[:, 0], _seam(m, teeth_shown))
    )
    lower = list(ft.LIPS_INNER_LOWER[1:-1] + ft.LIPS_OUTER_LOWER[1:-1])
    upper = list(ft.LIPS_INNER_UPPER[1:-1] + ft.LIPS_OUTER_UPPER[1:-1])
    below[[n_grid + i for i in lower]] = 1.0
    below[[n_grid + i for i in upper]] = 0.0
    corners = (
        ft.MOUTH_CORNER_LEFT,
        ft.MOUTH_CORNER_RIGHT,
        ft.INNER_CORNER_LEFT,
        ft.INNER_CORNER_RIGHT,
    )
    below[[n_grid + i for i in corners]] = 0.5
    seam_start = n_grid + ft.NUM_LANDMARKS
    seam_count = len(ft.LIPS_INNER_UPPER)
    below[seam_start : seam_start + seam_count] = 0.0  # the seam as the upper jaw sees it
    below[seam_start + seam_count : seam_start + 2 * seam_count] = 1.0  # ... and the lower jaw
    return below


JAW_CLOSE_FIELD = "jawClose"  # not a motion field: the decoder drives it with min(delta jawOpen, 0)


def _interior_ramp(m: FaceMeasures, pts: np.ndarray, n_grid: int, below: np.ndarray) -> np.ndarray:
    """0 above the upper inner lip, rising to 1 at the lower inner lip; the step elsewhere."""
    lc = m.canonical
    upper_y = curve_y(pts[:, 0], lc[list(ft.LIPS_INNER_UPPER), :2])
    lower_y = curve_y(pts[:, 0], lc[list(ft.LIPS_INNER_LOWER), :2])
    gap = lower_y - upper_y
    ramp = np.clip((pts[:, 1] - upper_y) / np.maximum(gap, _EPS), 0.0, 1.0)
    ramp = np.where(gap > 2.0, ramp, below)  # no interior to compress: behave like the step
    seam_start = n_grid + ft.NUM_LANDMARKS
    ramp[seam_start:] = 0.5  # both seam copies sit mid-interior and move together
    for index in (
        ft.LIPS_INNER_UPPER + ft.LIPS_OUTER_UPPER + ft.LIPS_INNER_LOWER + ft.LIPS_OUTER_LOWER
    ):
        ramp[n_grid + index] = below[n_grid + index]
    return np.asarray(ramp)


def seam_points(m: FaceMeasures, teeth_shown: float = 0.0) -> np.ndarray:
    """(11, 2) canonical seam points, image-left corner to image-right corner."""
    return _seam(m, teeth_shown)


def mouth_bases(
    m: FaceMeasures, pts: np.ndarray, n_grid: int, teeth_shown: float = 0.0
) -> dict[str, np.ndarray]:
    """The mouth's fields; `teeth_shown` (0..1, how far the portrait shows its upper teeth)
    keeps those teeth with the upper jaw (_seam). Lip thicknesses stay measured from the
    midline."""
    lc, mw, fh = m.canonical, m.mouth_width, m.face_height
    jaw_px = JAW_GAP_PER_UNIT * mw
    x, y = pts[:, 0], pts[:, 1]
    mouth_cx = 0.5 * (lc[ft.MOUTH_CORNER_LEFT, 0] + lc[ft.MOUTH_CORNER_RIGHT, 0])
    dx_mouth = x - mouth_cx
    below = _jaw_side(m, pts, n_grid, teeth_shown)
    seam_y = curve_y(x, _seam(m))
    chin_y = lc[ft.CHIN, 1]
    seam_mid_y = curve_y(np.array([mouth_cx]), _seam(m))[0]
    upper_thick = max(seam_mid_y - lc[ft.OUTER_LIP_UPPER_MID, 1], 2.0)
    lower_thick = max(lc[ft.OUTER_LIP_LOWER_MID, 1] - seam_mid_y, 2.0)

    # The lower lip opens as a lens (corners nearly fixed); the chin below moves as one piece.
    # An elliptical opening, full across the middle and closing steeply at the corners: the
    # smoothstep taper used before opened a V.
    across = np.clip(np.abs(dx_mouth) / (0.5 * mw), 0.0, 1.0)
    corner_taper = 0.08 + 0.92 * (1.0 - across**2) ** 0.75
    # Measured from the lower inner lip, not the seam: the portrait's own open mouth (teeth,
    # the dark corners of a smile) moves with the lip below it instead of stretching down.
    lower_inner_y = curve_y(x, lc[list(ft.LIPS_INNER_LOWER), :2])
    depth_blend = smoothstep(0.0, 1.8 * lower_thick, y - np.maximum(lower_inner_y, seam_y))
    lateral_jaw = 1.0 - smoothstep(0.55 * mw, 0.5 * m.face_width, np.abs(dx_mouth))
    down_neck = 1.0 - smoothstep(chin_y, chin_y + 0.35 * fh, y)
    jaw_shape = (corner_taper + (1.0 - corner_taper) * depth_blend) * lateral_jaw * down_neck
    jaw = below * jaw_shape
    # Closing a mouth the portrait shows open: its interior (teeth) compresses between the lips,
    # from 0 at the upper inner lip to 1 at the lower inner lip, like an eyelid over the eye.
    closing = _interior_ramp(m, pts, n_grid, below) * jaw_shape

    lateral_lips = 1.0 - smoothstep(0.5 * mw, 0.8 * mw, np.abs(dx_mouth))
    above_d, below_d = seam_y - y, y - seam_y
    upper_lip = (
        (1 - below) * (1 - smoothstep(upper_thick, 2.2 * upper_thick, above_d)) * lateral_lips
    )
    lower_lip = below * (1 - smoothstep(lower_thick, 2.0 * lower_thick, below_d)) * lateral_lips
    lips = np.maximum(upper_lip, lower_lip)
    inward = -np.clip(dx_mouth / (0.5 * mw), -1.3, 1.3)
    centre_arch = np.clip(1 - (dx_mouth / (0.5 * mw)) ** 2, 0, 1)
    press_upper = upper_lip * np.clip(above_d / upper_thick, 0, 1) * 0.3 * upper_thick
    press_lower = lower_lip * np.clip(below_d / lower_thick, 0, 1) * 0.3 * lower_thick

    out: dict[str, np.ndarray] = {
        "jawOpen": vec(jaw, 0.0, jaw_px, 0.2 * jaw_px),
        JAW_CLOSE_FIELD: vec(closing, 0.0, jaw_px, 0.2 * jaw_px),
        "mouthClose": vec(upper_lip, 0.0, 0.5 * jaw_px) + vec(lower_lip, 0.0, -0.5 * jaw_px),
        "mouthFunnel": vec(lips, inward * 0.12 * mw, 0.0, -0.1 * mw)
        + vec(upper_lip * centre_arch, 0.0, -0.08 * jaw_px)
        + vec(lower_lip * centre_arch, 0.0, 0.08 * jaw_px),
        "mouthPucker": vec(lips, inward * 0.2 * mw, 0.0, -0.15 * mw),
    }
    for side, corner, sign, cheek in (
        ("Left", ft.MOUTH_CORNER_LEFT, 1.0, ft.CHEEK_LEFT),
        ("Right", ft.MOUTH_CORNER_RIGHT, -1.0, ft.CHEEK_RIGHT),
    ):
        near_corner = gaussian(pts, lc[corner], 0.3 * mw)
        this_side = smoothstep(-0.15 * mw, 0.35 * mw, sign * dx_mouth)
        cheek_up = gaussian(pts, lc[cheek], 0.12 * fh)
        out[f"mouthStretch{side}"] = vec(near_corner, sign * 0.12 * mw, 0.03 * mw)
        out[f"mouthSmile{side}"] = vec(
            near_corner, sign * 0.05 * mw, -SMILE_LIFT_PER_UNIT * mw
        ) + vec(cheek_up, 0.0, -0.03 * fh)
        out[f"mouthFrown{side}"] = vec(near_corner, 0.0, FROWN_DROP_PER_UNIT * mw)
        out[f"mouthUpperUp{side}"] = vec(upper_lip * this_side, 0.0, -0.08 * mw)
        out[f"mouthLowerDown{side}"] = vec(lower_lip * this_side, 0.0, 0.10 * mw)
        out[f"mouthPress{side}"] = vec(this_side, 0.0, press_upper - press_lower)
    return out


# --- brows and cheeks --------------------------------------------------------------------------


def _above_eyes(m: FaceMeasures, pts: np.ndarray) -> np.ndarray:
    """0 at the upper eyelid margin, 1 from the brow up: brows move, eyes do not."""
    lc = m.canonical
    lid_y = 0.5 * (lc[159, 1] + lc[386, 1])
    brow_y = 0.5 * (lc[52, 1] + lc[282, 1])
    return np.clip((lid_y - pts[:, 1]) / max(lid_y - brow_y, 1.0), 0.0, 1.0)


def brow_bases(m: FaceMeasures, pts: np.ndarray) -> dict[str, np.ndarray]:
    lc, fh = m.canonical, m.face_height
    above = _above_eyes(m, pts)
    inner = np.clip(gaussian(pts, lc[107], 0.12 * fh) + gaussian(pts, lc[336], 0.12 * fh), 0, 1)
    out = {"browInnerUp": vec(inner * above, 0.0, -0.05 * fh)}
    for side, centre, outer, sign in (("Left", 334, 300, 1.0), ("Right", 105, 70, -1.0)):
        out[f"browDown{side}"] = vec(
            gaussian(pts, lc[centre], 0.13 * fh) * above, -sign * 0.015 * fh, 0.04 * fh
        )
        out[f"browOuterUp{side}"] = vec(
            gaussian(pts, lc[outer], 0.1 * fh) * above, 0.0, -0.045 * fh
        )
    return out


def cheek_bases(m: FaceMeasures, pts: np.ndarray) -> dict[str, np.ndarray]:
    lc, fh = m.canonical, m.face_height
    out = {}
    for side, cheek, lid in (("Left", ft.CHEEK_LEFT, 374), ("Right", ft.CHEEK_RIGHT, 145)):
        centre = 0.5 * (lc[cheek] + lc[lid])
        below_lid = smoothstep(lc[lid, 1] - 0.01 * fh, lc[lid, 1] + 0.02 * fh, pts[:, 1])
        out[f"cheekSquint{side}"] = vec(
            gaussian(pts, centre, 0.09 * fh) * below_lid, 0.0, -0.03 * fh
        )
    return out


# --- eyes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Eye:
    upper: tuple[int, ...]
    lower: tuple[int, ...]
    brow_lower: tuple[int, ...]
    iris: tuple[int, ...]
    blink_field: str


_EYES = {
    "Left": _Eye(
        ft.EYE_LEFT_UPPER, ft.EYE_LEFT_LOWER, ft.BROW_LEFT_LOWER, ft.IRIS_LEFT, "eyeBlinkLeft"
    ),
    "Right": _Eye(
        ft.EYE_RIGHT_UPPER, ft.EYE_RIGHT_LOWER, ft.BROW_RIGHT_LOWER, ft.IRIS_RIGHT, "eyeBlinkRight"
    ),
}


def _eye_fields(
    m: FaceMeasures, pts: np.ndarray, n_grid: int, eye: _Eye, blink_src: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lid weight x opening px, opening mask, gaze weight) for one eye."""
    lc = m.canonical
    x, y = pts[:, 0], pts[:, 1]
    upper, lower = lc[list(eye.upper), :2], lc[list(eye.lower), :2]
    up_y, low_y = curve_y(x, upper), curve_y(x, lower)
    brow_y = np.minimum(curve_y(x, lc[list(eye.brow_lower), :2]), up_y - 2.0)
    opening = np.maximum(low_y - up_y, 0.0)
    x0, x1 = upper[:, 0].min(), upper[:, 0].max()
    eye_width = x1 - x0
    outside = np.maximum(x0 - x, 0) + np.maximum(x - x1, 0)
    lateral = 1.0 - smoothstep(0.0, 0.25 * eye_width, outside)
    # The lid skin just above the lash line travels with it (a rigid band as tall as the
    # opening); the skin between that band and the brow stretches. Inside the opening the eye
    # compresses onto the lower lid.
    # The skin just above the lash line travels almost with it and the stretch fades towards the
    # brow (a concave profile, so the lid crease ends low over the closed eye); inside the
    # opening the eye compresses onto the lower lid.
    travel = opening
    lid = (
        np.where(
            y < up_y,
            np.clip((y - brow_y) / (up_y - brow_y), 0, 1) ** 0.3,
            np.clip((low_y - y) / np.maximum(travel, _EPS), 0, 1),
        )
        * lateral
    )
    lid_px = lid * travel / max(1.0 - blink_src, 0.05)
    inside = smoothstep(-0.5, 0.5, y - up_y) * smoothstep(-0.5, 0.5, low_y - y)
    inside *= (x > x0) & (x < x1)
    iris_centre = lc[eye.iris[0]]
    iris_radius = float(
        np.mean(np.linalg.norm(lc[list(eye.iris[1:]), :2] - iris_centre[:2], axis=1))
    )
    d = np.linalg.norm(pts[:, :2] - iris_centre[:2], axis=1)
    gaze = (1.0 - smoothstep(iris_radius, iris_radius + 0.35 * eye_width, d)) * inside
    gaze[[n_grid + i for i in eye.iris]] = 1.0
    return lid_px, inside, gaze * eye_width


def eye_bases(
    m: FaceMeasures, pts: np.ndarray, n_grid: int, source_motion: np.ndarray
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    gaze_total = np.zeros(len(pts))
    for side, eye in _EYES.items():
        blink_src = float(source_motion[ms.INDEX[eye.blink_field]])
        lid_px, _inside, gaze = _eye_fields(m, pts, n_grid, eye, blink_src)
        out[f"eyeBlink{side}"] = vec(lid_px, 0.0, 1.0)
        out[f"eyeWide{side}"] = vec(lid_px * (1.0 - blink_src), 0.0, -0.3)
        gaze_total += gaze
    # The iris moves in the decoder's eye layer (segmented, inside the opening), not by
    # warping the eye: a warp stretched the sclera and barely moved an iris that fills the
    # opening from lid to lid. The fields stay, as zeros, to keep one per coefficient.
    out["eyeLookX"] = vec(gaze_total * 0.0, GAZE_X_PER_UNIT, 0.0)
    out["eyeLookY"] = vec(gaze_total * 0.0, 0.0, GAZE_Y_PER_UNIT)
    return out
