"""Portrait -> PreparedAvatar: one face checked, cropped to 512x512, landmarked, person split off.

Runs once per portrait (about a second on one core); sessions load the saved result.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.avatar.image_io import (
    PLAIN_STEP,
    Affine,
    Float32Array,
    RGBImage,
    apply_transform,
    load_image_checked,
    plain_backdrop,
    read_source,
    square_transform,
    warp_square,
)
from engine.avatar.landmarks import (
    LANDMARK_MODEL,
    MAX_FACES_COUNTED,
    FaceModels,
    FoundFace,
    face_models,
    find_faces,
)
from engine.avatar.prepared import CROP_SIZE_PX, PreparedAvatar
from engine.errors import AvatarError
from models import drawn_mouth, face_rig
from models import face_topology as topo

MIN_FACE_WIDTH_PX = 40  # face-oval width in the source; the 197 px Mona Lisa's face is ~96 px
MIN_COUNTED_FACE_RATIO = 1 / 3  # faces under a third of the largest one's width are background
CROP_SIDE_PER_FACE_WIDTH = 2.6  # room for head motion, hair and the shoulders
# A portrait cut close around the head gets a tighter square, moved by up to a tenth of its side,
# before any rows are made up beyond its top, left or right edge (see fit_inside).
MIN_CROP_SIDE_PER_FACE_WIDTH = 2.2
MAX_FIT_SHIFT_PER_SIDE = 0.1
HEADROOM_PER_FACE_WIDTH = 0.12  # crop centre sits this far above the face centre, for hair
MIRROR_CHIN_MARGIN_PER_FACE_WIDTH = 0.12  # mirrored body rows stop this far below the chin
MAX_UNCORRECTED_ROLL_RAD = math.radians(15)  # smaller tilts are kept as the photo has them


@dataclass(frozen=True)
class CropSquare:
    """The square, in source pixels, that becomes the 512x512 avatar image."""

    centre_px: tuple[float, float]
    side_px: float
    angle_rad: float  # the crop's x axis in the source; 0 keeps the photo's own orientation

    def transform(self, out_px: int = CROP_SIZE_PX) -> Affine:
        return square_transform(self.centre_px, self.side_px, self.angle_rad, out_px)


def prepare_avatar(
    source: Path | bytes, *, name: str = "", models: FaceModels | None = None
) -> PreparedAvatar:
    """Check, crop, landmark and segment one portrait (JPEG, PNG or WebP file or its bytes).

    Raises AvatarError (reasons in engine.errors) when the file or the face is unusable.
    """
    models = models or face_models()
    data = read_source(source)
    rgb = load_image_checked(data)
    source_landmarks = single_face_landmarks(models, rgb)
    crop = fit_inside(crop_square(source_landmarks), rgb, source_landmarks)
    backdrop = plain_backdrop(rgb)
    chin_y = float(source_landmarks[topo.CHIN, 1])
    image = warp_square(
        extend_below(rgb, crop, source_landmarks), crop.transform(), CROP_SIZE_PX, backdrop, chin_y
    )
    landmarks = crop_landmarks(models, image, apply_transform(crop.transform(), source_landmarks))
    landmarks = drawn_mouth.fit_drawn_mouth(image, landmarks)  # flat art: onto its drawn mouth
    alpha = person_alpha(models, image, landmarks, backdrop)
    skin = face_rig.face_skin(image, landmarks)  # the eye shapes and the rig both need it
    shapes = face_rig.eye_shapes(image, landmarks, skin)
    source_motion = np.asarray(
        face_rig.with_drawn_gaze(face_rig.estimate_motion(landmarks), shapes), np.float32
    )
    return PreparedAvatar(
        image=image,
        landmarks_px=landmarks,
        source_motion=source_motion,
        person_alpha=alpha,
        background=remove_person(image, alpha),
        rig=face_rig.build_rig(image, landmarks, alpha, source_motion, shapes=shapes, skin=skin),
        meta=_meta(source, name, data, rgb, crop, face_width_px(source_landmarks)),
    )


def single_face_landmarks(models: FaceModels, rgb: RGBImage) -> Float32Array:
    """(478, 3) landmarks in source pixels of the one face, else AvatarError."""
    faces = find_faces(models, rgb)
    if not faces:
        raise AvatarError(
            "found no face in the picture; the portrait must show one face, looking roughly "
            "towards the camera",
            "no_face",
        )
    largest = max(face.box.width for face in faces)
    counted = [face for face in faces if face.box.width >= MIN_COUNTED_FACE_RATIO * largest]
    if len(counted) > 1:
        raise AvatarError(
            f"found {len(counted)} faces; the portrait must show exactly one", "several_faces"
        )
    return _checked_landmarks(counted[0])


def face_width_px(landmarks_px: Float32Array) -> float:
    """The face oval's extent along the eye line, in the landmarks' pixels."""
    axis = _eye_axis(landmarks_px)
    along = landmarks_px[list(topo.FACE_OVAL), :2] @ axis
    return float(along.max() - along.min())


def crop_square(landmarks_px: Float32Array) -> CropSquare:
    """A square centred between eyes and mouth, a little above for hair, 2.6 face widths wide."""
    axis = _eye_axis(landmarks_px)
    roll = math.atan2(axis[1], axis[0])
    angle = roll if abs(roll) > MAX_UNCORRECTED_ROLL_RAD else 0.0
    up = np.array([math.sin(angle), -math.cos(angle)])
    eyes = landmarks_px[[*topo.EYE_RIGHT_CORNERS, *topo.EYE_LEFT_CORNERS], :2].mean(axis=0)
    mouth = landmarks_px[[topo.MOUTH_CORNER_RIGHT, topo.MOUTH_CORNER_LEFT], :2].mean(axis=0)
    width = face_width_px(landmarks_px)
    centre = (eyes + mouth) / 2 + up * HEADROOM_PER_FACE_WIDTH * width
    return CropSquare((float(centre[0]), float(centre[1])), CROP_SIDE_PER_FACE_WIDTH * width, angle)


def fit_inside(crop: CropSquare, rgb: RGBImage, landmarks_px: Float32Array) -> CropSquare:
    """The square moved (up to a tenth of its side) and tightened (down to 2.2 face widths) until
    it stays inside the portrait's top, left and right edges, where it can.

    Beyond those edges warp_square can only repeat and blur the last pixels: hair cut by the top
    of a close selfie became a smeared column above the head, a cut suit a streak at the side.
    The bottom may still be left: extend_below continues the body there. A square turned for a
    rolled head is kept as it is.
    """
    if crop.angle_rad != 0.0:
        return crop
    height, width = rgb.shape[:2]
    ideal_x, ideal_y = crop.centre_px
    smallest = min(crop.side_px, MIN_CROP_SIDE_PER_FACE_WIDTH * face_width_px(landmarks_px))
    best = crop
    for side in np.linspace(crop.side_px, smallest, 17):
        half, shift = side / 2, MAX_FIT_SHIFT_PER_SIDE * side
        # Centres that keep the square inside [0, width] and below row 0, within the shift.
        inside_x = np.clip(ideal_x, half, width - half) if side <= width else width / 2
        x = float(np.clip(inside_x, ideal_x - shift, ideal_x + shift))
        y = float(np.clip(max(ideal_y, half), ideal_y, ideal_y + shift))
        best = CropSquare((x, y), float(side), 0.0)
        if x - half >= -0.5 and x + half <= width + 0.5 and y - half >= -0.5:
            return best
    return best


def extend_below(rgb: RGBImage, crop: CropSquare, landmarks_px: Float32Array) -> RGBImage:
    """The portrait with the rows the crop needs below its bottom edge filled from above it.

    A portrait cut at the chest otherwise ends in a blurred smear of its last row. The fill is
    the body above the edge mirrored (up to a margin below the chin, whose mirror image would
    show), stretched where that is shorter than the rows needed: clothes run on downwards.
    """
    height = rgb.shape[0]
    to_source = np.linalg.inv(np.vstack([crop.transform(), [0.0, 0.0, 1.0]]))[:2]
    corners = np.array([[0, 0], [CROP_SIZE_PX, CROP_SIZE_PX]], np.float32)
    needed = int(np.ceil(float(apply_transform(to_source, corners)[:, 1].max()) - height)) + 2
    if needed <= 0:
        return rgb
    margin_px = MIRROR_CHIN_MARGIN_PER_FACE_WIDTH * face_width_px(landmarks_px)
    band = max(min(int(height - 1 - float(landmarks_px[topo.CHIN, 1]) - margin_px), needed), 2)
    # One mirror pass over the band, slowed down to fill the rows needed where the body above
    # the edge is shorter than them: no row pattern repeats.
    rows = np.round(height - 2 - np.arange(needed) * (band - 1) / max(needed - 1, 1)).astype(int)
    return np.ascontiguousarray(np.concatenate([rgb, rgb[rows]], axis=0))


def crop_landmarks(models: FaceModels, image: RGBImage, expected_px: Float32Array) -> Float32Array:
    """Landmarks re-fitted on the crop: the mesh face nearest the expected one, else expected."""
    meshes = models.face_landmarks(image, max_faces=MAX_FACES_COUNTED)  # reuses that graph
    if not meshes:
        return expected_px.astype(np.float32)
    centre = expected_px[:, :2].mean(axis=0)
    return min(meshes, key=lambda m: float(np.linalg.norm(m[:, :2].mean(axis=0) - centre)))


def person_alpha(
    models: FaceModels,
    image: RGBImage,
    landmarks_px: Float32Array,
    backdrop: NDArray[np.float32] | None = None,
) -> Float32Array:
    """(512, 512) float32 person matte: segmentation, always covering the head with its hair.

    Segmentation fails on some paintings and cartoons, so a generous head shape is unioned in.
    On a plain `backdrop` (image_io.plain_backdrop) everything joined to the head that is not
    the backdrop's colour is the person too: segmentation missed a cartoon's blue hair, which
    stayed behind in the background as the head turned, and was smeared into it as blue blots.
    """
    mask = cv2.GaussianBlur(models.person_mask(image), (0, 0), 1.5)
    head = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(head, [np.round(_head_outline(landmarks_px)).astype(np.int32)], (255,))
    head_soft = cv2.GaussianBlur(head.astype(np.float32) / 255.0, (0, 0), 4.0)
    alpha = np.maximum(mask, head_soft)
    if backdrop is not None:
        alpha = np.maximum(alpha, _off_backdrop(image, backdrop, head > 0))
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _off_backdrop(
    image: RGBImage, backdrop: NDArray[np.float32], head: NDArray[np.bool_]
) -> Float32Array:
    """(H, W) float32: 1 where the picture differs from its plain backdrop's colour and is
    joined to the head, softened by a pixel."""
    differs = np.abs(image.astype(np.float32) - backdrop).max(axis=-1) > 2 * PLAIN_STEP
    _, labels = cv2.connectedComponents(differs.astype(np.uint8), connectivity=4)
    touching = np.unique(labels[head & differs])
    joined = np.isin(labels, touching[touching > 0])
    return np.asarray(cv2.GaussianBlur(joined.astype(np.float32), (0, 0), 1.0), np.float32)


def remove_person(image: RGBImage, alpha: Float32Array, work_px: int = 128) -> RGBImage:
    """The scene behind the person: inpainted at low resolution inside a dilated person mask."""
    size = image.shape[1], image.shape[0]
    hole = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((25, 25), np.uint8))
    small = cv2.resize(image, (work_px, work_px), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (work_px, work_px), interpolation=cv2.INTER_NEAREST)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, size, interpolation=cv2.INTER_CUBIC)
    weight = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), 3.0)[..., None]
    # Outside the feathered hole the original pixels are kept exactly.
    weight = np.where(cv2.dilate(hole, np.ones((13, 13), np.uint8))[..., None] > 0, weight, 0.0)
    out = filled.astype(np.float32) * weight + image.astype(np.float32) * (1.0 - weight)
    return np.asarray(np.clip(np.round(out), 0, 255), np.uint8)


def _checked_landmarks(face: FoundFace) -> Float32Array:
    landmarks = face.landmarks_px
    width = face.box.width if landmarks is None else face_width_px(landmarks)
    if width < MIN_FACE_WIDTH_PX:
        raise AvatarError(
            f"the face is only {width:.0f} pixels wide; it must be at least {MIN_FACE_WIDTH_PX} "
            "pixels wide, so use a larger picture or crop closer around the face",
            "face_too_small",
        )
    if landmarks is None:
        raise AvatarError(
            "found a face but could not locate its eyes, nose and mouth; use a clearer, "
            "front-facing portrait",
            "no_face",
        )
    return landmarks


def _eye_axis(landmarks_px: Float32Array) -> NDArray[np.float64]:
    """Unit vector from the image-left eye to the image-right eye."""
    right = landmarks_px[list(topo.EYE_RIGHT_CORNERS), :2].mean(axis=0)
    left = landmarks_px[list(topo.EYE_LEFT_CORNERS), :2].mean(axis=0)
    axis = (left - right).astype(np.float64)
    return np.asarray(axis / max(float(np.linalg.norm(axis)), 1e-6), np.float64)


def _head_outline(landmarks_px: Float32Array) -> NDArray[np.float64]:
    """The face oval grown outwards, much more above the eyes, to take in hair and ears."""
    oval = landmarks_px[list(topo.FACE_OVAL), :2].astype(np.float64)
    centre = oval.mean(axis=0)
    offsets = oval - centre
    grow = np.where(offsets[:, 1:2] < 0, 1.45, 1.15)
    return np.asarray(centre + offsets * grow, np.float64)


def _meta(
    source: Path | bytes,
    name: str,
    data: bytes,
    rgb: RGBImage,
    crop: CropSquare,
    face_width: float,
) -> dict[str, Any]:
    half = crop.side_px / 2
    cx, cy = crop.centre_px
    return {
        "source_name": name or (Path(source).name if isinstance(source, Path | str) else ""),
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_size_px": [int(rgb.shape[1]), int(rgb.shape[0])],
        "source_face_width_px": round(face_width, 2),
        # The square before it is turned by crop_rotation_deg about its centre.
        "crop_box_px": [round(v, 2) for v in (cx - half, cy - half, cx + half, cy + half)],
        "crop_rotation_deg": round(math.degrees(crop.angle_rad), 3),
        "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "landmark_model": LANDMARK_MODEL,
    }
