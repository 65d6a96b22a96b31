"""The decoder does what a viewer would notice, checked by re-detecting landmarks on its frames."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from engine.avatar.prepared import PreparedAvatar
from engine.render.renderer import AvatarRenderer
from models import face_topology as ft
from models import motion_space as ms
from tests.face_metrics import (
    eye_ratio,
    iris_offset,
    iris_shift_iod,
    mouth_interior_shares,
    mouth_opening,
    open_mouth_interior,
    psnr_db,
)

PORTRAITS = ["astronaut.png", "mona_lisa.jpg", "mona_lisa_197px.jpg", "caricature.png"]
# A closed eye must keep at most this fraction of its open eye aspect ratio, as re-detected,
# with the other eye open (measured 0.12-0.40; the Mona Lisa's left eye is the 0.40).
BLINK_MAX_RATIO = 0.45


@pytest.fixture(scope="module")
def face_models():  # type: ignore[no-untyped-def]
    from engine.avatar.landmarks import FaceModels

    models = FaceModels()
    yield models
    models.close()


@pytest.fixture(scope="module", params=PORTRAITS)
def rig(
    request: pytest.FixtureRequest, prepared_avatar: Callable[[str], PreparedAvatar], face_models
):  # type: ignore[no-untyped-def]
    avatar = prepared_avatar(request.param)
    renderer = AvatarRenderer(avatar)

    def landmarks_with(**fields: float) -> np.ndarray:
        frame = renderer.render(ms.with_fields(avatar.source_motion, **fields))[0]
        found = face_models.face_landmarks(frame)
        assert found, f"no face re-detected in the frame rendered with {fields}"
        return found[0]

    return request.param, renderer, landmarks_with, avatar


# Re-detected inner-lip gap at jawOpen=1, in mouth widths (painted: JAW_GAP_PER_UNIT = 0.55 at
# the midline). Since the opening is round rather than a V (round 2) the detector reads the
# Mona Lisa's as 0.254 (0.32 before), with the same gap at the midline; the other portraits
# read 0.32-0.45.
JAW_OPEN_MIN = {"mona_lisa.jpg": 0.23}


def test_jaw_open_opens_and_closes_the_lips(rig) -> None:  # type: ignore[no-untyped-def]
    name, _, landmarks_with, _ = rig
    opened = mouth_opening(landmarks_with(jawOpen=1.0))
    closed = mouth_opening(landmarks_with(jawOpen=0.0, mouthClose=0.0))
    assert opened > JAW_OPEN_MIN.get(name, 0.25), (
        f"jawOpen=1 opened the inner lips to only {opened:.2f} of mouth width"
    )
    assert closed < 0.06, f"jawOpen=0 left the inner lips {closed:.2f} of mouth width apart"


@pytest.mark.parametrize("side", ["Left", "Right"])
def test_blink_closes_that_eye_only(rig, side: str) -> None:  # type: ignore[no-untyped-def]
    _, _, landmarks_with, _ = rig
    other = "Right" if side == "Left" else "Left"
    open_lm = landmarks_with(eyeBlinkLeft=0.0, eyeBlinkRight=0.0)
    blink_lm = landmarks_with(**{f"eyeBlink{side}": 1.0, f"eyeBlink{other}": 0.0})
    before, after = eye_ratio(open_lm, side), eye_ratio(blink_lm, side)
    assert after < BLINK_MAX_RATIO * before, (
        f"eyeBlink{side}=1: eye aspect ratio {before:.3f} -> {after:.3f}"
    )
    assert eye_ratio(blink_lm, other) > 0.7 * eye_ratio(open_lm, other), "the other eye closed too"


# Both eyes closed together, re-detected: at most this fraction of the open aspect ratio, as
# the issue asks, frontally and with the head turned 0.35 rad (measured 0.13-0.38). The Mona
# Lisa's left eye read 0.49 until round 3: her closed lid, lit evenly to a lash line on the
# lower lid's contour, read as a pale eyeball under a dark socket. It is shaded towards its
# lash line and the lower lid rises to meet it (models/decoder.py, _lid).
BLINK_BOTH_MAX_RATIO = 0.4


@pytest.mark.parametrize("turn", [0.0, 0.35])
def test_blink_closes_both_eyes_even_on_a_turned_head(rig, turn: float) -> None:  # type: ignore[no-untyped-def]
    """Bug: eyeBlinkLeft=eyeBlinkRight=1 left one of the Mona Lisa's eyes half open (0.51 of
    open) and, with the head turned, both (0.66): blinks looked like winks."""
    _, _, landmarks_with, avatar = rig
    yaw = float(avatar.source_motion[ms.INDEX["yaw"]]) + turn
    open_lm = landmarks_with(yaw=yaw, eyeBlinkLeft=0.0, eyeBlinkRight=0.0)
    closed_lm = landmarks_with(yaw=yaw, eyeBlinkLeft=1.0, eyeBlinkRight=1.0)
    for side in ("Left", "Right"):
        ratio = eye_ratio(closed_lm, side) / eye_ratio(open_lm, side)
        assert ratio <= BLINK_BOTH_MAX_RATIO, (
            f"yaw {yaw:+.2f}: the {side} eye closed only to {ratio:.2f} of open"
        )


def test_yaw_and_pitch_move_the_nose_tip_the_right_way(rig) -> None:  # type: ignore[no-untyped-def]
    _, _, landmarks_with, avatar = rig
    own = avatar.source_motion
    nose = {}
    for name, delta in (("yaw", 0.3), ("yaw", -0.3), ("pitch", 0.25), ("pitch", -0.25)):
        nose[(name, delta)] = landmarks_with(**{name: own[ms.INDEX[name]] + delta})[ft.NOSE_TIP, :2]
    face_px = np.linalg.norm(
        avatar.landmarks_px[ft.CHEEK_EDGE_LEFT, :2] - avatar.landmarks_px[ft.CHEEK_EDGE_RIGHT, :2]
    )
    dx = nose[("yaw", 0.3)][0] - nose[("yaw", -0.3)][0]
    dy = nose[("pitch", 0.25)][1] - nose[("pitch", -0.25)][1]
    assert dx > 0.1 * face_px, f"yaw +0.3 vs -0.3 moved the nose tip {dx:.1f} px right"
    assert dy > 0.05 * face_px, f"pitch +0.25 vs -0.25 moved the nose tip {dy:.1f} px down"


def test_gaze_moves_the_irises(rig) -> None:  # type: ignore[no-untyped-def]
    _, _, landmarks_with, _ = rig
    right = iris_offset(landmarks_with(eyeLookX=1.0, eyeLookY=0.0))
    left = iris_offset(landmarks_with(eyeLookX=-1.0, eyeLookY=0.0))
    assert right[0] - left[0] > 0.12, (
        f"eyeLookX -1 -> 1 moved the irises {right[0] - left[0]:.3f} eye widths"
    )


def test_own_motion_reproduces_the_portrait(rig) -> None:  # type: ignore[no-untyped-def]
    _, renderer, _, avatar = rig
    frame = renderer.render(avatar.source_motion)[0]
    from models.face_rig import polygon_mask

    face = polygon_mask(avatar.landmarks_px[list(ft.FACE_OVAL), :2], 512)
    assert psnr_db(frame, avatar.image, face) >= 35.0


def test_background_stays_put_when_the_head_moves(rig) -> None:  # type: ignore[no-untyped-def]
    _, renderer, _, avatar = rig
    own = avatar.source_motion
    still = renderer.render(own)[0]
    moved = renderer.render(
        ms.with_fields(
            own,
            yaw=own[ms.INDEX["yaw"]] + 0.3,
            pitch=own[ms.INDEX["pitch"]] + 0.2,
            roll=own[ms.INDEX["roll"]] + 0.2,
            tx=own[ms.INDEX["tx"]] + 0.05,
        )
    )[0]
    import cv2

    person = (avatar.person_alpha > 0.05).astype(np.uint8)
    near_person = cv2.dilate(person, np.ones((61, 61), np.uint8)) > 0
    background = ~near_person
    assert background.mean() > 0.05, "too little background in this crop to test"
    diff = np.abs(still.astype(int) - moved.astype(int))[background]
    assert np.percentile(diff, 99) <= 2, "background pixels changed under head motion"


def test_the_body_beside_the_jaw_stays_when_the_head_turns(
    prepared_avatar: Callable[[str], PreparedAvatar],
) -> None:
    """Bug: everything above the chin turned with the head across the whole frame, and the
    astronaut's collar ring, risen beside her jaw to her ears, bent with every tilt and turn.
    Beside the jaw, well out from the face's outline, the body stays."""
    from models.face_rig import polygon_mask

    avatar = prepared_avatar("astronaut.png")
    renderer = AvatarRenderer(avatar)
    own = avatar.source_motion
    still = renderer.render(own)[0].astype(np.float32)
    landmarks = avatar.landmarks_px
    face = polygon_mask(landmarks[list(ft.FACE_OVAL), :2], still.shape[0])
    eyes_y = float(landmarks[list(ft.EYE_LEFT_CORNERS + ft.EYE_RIGHT_CORNERS), 1].mean())
    chin_y = float(landmarks[ft.CHIN, 1])
    face_width = float(np.ptp(landmarks[list(ft.FACE_OVAL), 0]))
    beside = np.zeros_like(face)
    for row in range(round(0.5 * (eyes_y + chin_y)), round(chin_y)):
        columns = np.flatnonzero(face[row])
        if len(columns):
            reach = round(0.4 * face_width)
            beside[row, : max(columns[0] - reach, 0)] = True
            beside[row, columns[-1] + reach :] = True
    beside &= avatar.person_alpha > 0.5
    assert beside.sum() > 500, "no body beside the jaw in this crop to test"
    for field, turn in (("yaw", 0.3), ("roll", 0.2)):
        moved = renderer.render(ms.with_fields(own, **{field: own[ms.INDEX[field]] + turn}))[0]
        change = float(np.abs(moved.astype(np.float32) - still)[beside].mean())
        assert change < 4.0, f"{field} +{turn}: the body beside the jaw changed {change:.1f} levels"


def test_gaze_moves_the_irises_inside_the_opening(rig) -> None:  # type: ignore[no-untyped-def]
    """Bug: eyeLookX=1 moved the Mona Lisa's irises 0.009 inter-ocular distances: the warp
    stretched the eye around an iris that fills the opening and the painted gaze stayed put."""
    _, _, landmarks_with, _ = rig
    still = landmarks_with(eyeLookX=0.0, eyeLookY=0.0)
    for look in (1.0, -1.0):
        shift = iris_shift_iod(landmarks_with(eyeLookX=look, eyeLookY=0.0), still)[0]
        assert shift * look >= 0.02, f"eyeLookX={look} moved the irises {shift:.3f} IOD"


# Re-detected vertical iris travel from eyeLookY=-1 (up) to +1 (down), in inter-ocular
# distances. Measured 0.039 on the astronaut, 0.027 on the Mona Lisa, 0.021 on her small copy,
# 0.028 on the caricature (round 1: 0.005-0.010; round 2: 0.020-0.036). The painting reads less:
# her iris fills the opening from lid to lid, so a moved iris mostly shows as the lids following.
VERTICAL_GAZE_MIN_RANGE = 0.02


def test_vertical_gaze_moves_the_irises_up_and_down(rig) -> None:  # type: ignore[no-untyped-def]
    """Bug: eyeLookY=+-1 moved the irises 0.003-0.007 inter-ocular distances (horizontal gaze
    moves them 0.04): the iris moved 0.3 of its calibrated shift under lids that stayed put."""
    _, _, landmarks_with, _ = rig
    still = landmarks_with(eyeLookX=0.0, eyeLookY=0.0)
    down = iris_shift_iod(landmarks_with(eyeLookX=0.0, eyeLookY=1.0), still)[1]
    up = iris_shift_iod(landmarks_with(eyeLookX=0.0, eyeLookY=-1.0), still)[1]
    assert down > 0.0 > up, f"eyeLookY=+1 moved the irises {down:+.3f} IOD, -1 {up:+.3f}"
    assert down - up >= VERTICAL_GAZE_MIN_RANGE, f"up to down moved the irises {down - up:.3f} IOD"


@pytest.fixture(scope="module")
def speech_motion(shared_data):  # type: ignore[no-untyped-def]
    """25 Hz motion the shipped model makes for 3 s of real speech."""
    import soundfile
    import soxr

    from engine.motion.clip import generate_motion

    path = shared_data / "speech" / "jfk.flac"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    speech = soxr.resample(audio.mean(axis=1)[: 3 * rate], rate, 16_000).astype(np.float32)
    return generate_motion(speech, seed=0)


def test_open_mouth_shows_teeth_not_a_dark_hole(rig, speech_motion, face_models) -> None:  # type: ignore[no-untyped-def]
    """Bug: an open mouth was a flat dark hole (39-57 % dark inside the lips over the more open
    frames of speech) where real talking video is 1-28 % dark with 21-33 % teeth."""
    from engine.motion.retarget import retarget

    _, renderer, _, avatar = rig
    motion = retarget(speech_motion, avatar.source_motion)[::3]
    frames = [f for i in range(0, len(motion), 8) for f in renderer.render(motion[i : i + 8])]
    found = [(f, lm[0]) for f in frames if (lm := face_models.face_landmarks(f))]
    teeth, dark, counted = open_mouth_interior([f for f, _ in found], [lm for _, lm in found])
    assert counted >= 5, f"only {counted} open-mouth frames in 3 s of speech"
    # The bound. Over seeds 0-4 of this clip the four shared portraits read 0.26-0.36
    # (the astronaut 0.33-0.36, the small Mona Lisa lowest); before the smile's upper teeth
    # stayed with the upper jaw the astronaut read 0.18. Real video reads 0.16
    # (video-retalking) to 0.41 (HDTF) by this measure.
    assert teeth >= 0.2, f"teeth cover {teeth:.2f} of the open mouth"
    assert dark <= 0.3, f"{dark:.2f} of the open mouth is dark"


def test_a_smile_keeps_its_upper_teeth_as_the_jaw_opens(rig) -> None:  # type: ignore[no-untyped-def]
    """Bug: the jaw split a smile's upper teeth at the lips' midline, so as the mouth opened
    their lower half rode down on the lower lip and a dark crescent opened across the teeth."""
    _, renderer, _, avatar = rig
    if avatar.rig["mouth"][2] < 0.5:
        pytest.skip("the portrait shows no upper teeth")
    own = avatar.source_motion
    # The upper jaw stays put, so the teeth stay where the portrait's inner lips were.
    lips = avatar.landmarks_px
    teeth_still, _ = mouth_interior_shares(renderer.render(own)[0], lips)
    opened = renderer.render(ms.with_fields(own, jawOpen=0.6, mouthClose=0.0))[0]
    teeth_open, _ = mouth_interior_shares(opened, lips)
    assert teeth_open >= 0.8 * teeth_still, (
        f"opening the jaw left {teeth_open:.2f} of the smile's teeth area tooth-like "
        f"({teeth_still:.2f} at rest)"
    )


def test_a_closing_lid_does_not_drag_a_hat_brim_down_over_the_eye(
    prepared_avatar: Callable[[str], PreparedAvatar],
) -> None:
    """A bright brim painted just above one eye (a white hat or headscarf low over the face)
    stays above it: the closed lid shows skin, not the brim pulled down over the eye."""
    import dataclasses

    from models import face_rig

    avatar = prepared_avatar("astronaut.png")
    image = avatar.image.copy()
    upper = avatar.landmarks_px[list(ft.EYE_RIGHT_UPPER), :2]
    lower = avatar.landmarks_px[list(ft.EYE_RIGHT_LOWER), :2]
    x0, x1 = int(upper[:, 0].min()) - 6, int(upper[:, 0].max()) + 6
    lash_y, low_y = int(upper[:, 1].min()), int(lower[:, 1].max())
    brim = np.array([245, 245, 240], np.uint8)
    image[: lash_y - 6, x0:x1] = brim
    rig = face_rig.build_rig(image, avatar.landmarks_px, avatar.person_alpha, avatar.source_motion)
    hatted = dataclasses.replace(avatar, image=image, rig=rig)
    closed = AvatarRenderer(hatted).render(
        ms.with_fields(avatar.source_motion, eyeBlinkLeft=1.0, eyeBlinkRight=1.0)
    )[0]
    below_brim = closed[lash_y - 6 : low_y + 1, x0:x1]
    distance = np.linalg.norm(below_brim.reshape(-1, 3).astype(np.float32) - brim, axis=-1)
    assert np.mean(distance < 40.0) < 0.01, "the brim is pulled down over the closed eye"


def test_light_on_a_lid_under_a_brow_in_shade_is_lid_and_closes_with_it(
    prepared_avatar: Callable[[str], PreparedAvatar],
) -> None:
    """Bug: a 3D render lights the upper lid into a bright band under a brow in shade, which
    read as a hat over the lid (brighter than the face's skin): the lid zone stopped under it,
    4 px, and the closed lid was the eye's own content smeared down. A band that stops below
    the brow is lid: the zone is as without it."""
    from models import face_rig

    avatar = prepared_avatar("astronaut.png")
    plain = face_rig.build_rig(
        avatar.image, avatar.landmarks_px, avatar.person_alpha, avatar.source_motion
    )
    image = avatar.image.copy()
    upper = avatar.landmarks_px[list(ft.EYE_RIGHT_UPPER), :2]
    x0, x1 = int(upper[:, 0].min()) - 2, int(upper[:, 0].max()) + 2
    lash_y = int(upper[:, 1].min())
    image[lash_y - 9 : lash_y - 3, x0:x1] = (255, 250, 220)  # the light on the lid
    rig = face_rig.build_rig(image, avatar.landmarks_px, avatar.person_alpha, avatar.source_motion)
    right = 1  # eye_geometry rows: left, right
    zone, before = float(rig["eye_geometry"][right, 12]), float(plain["eye_geometry"][right, 12])
    assert zone >= before - 1.0, (
        f"the lid zone is {zone:.1f} px with the light, {before:.1f} without"
    )


def _grain(plane: np.ndarray) -> np.ndarray:
    """|each pixel - its 3x3 mean| of a 2-D plane (the border rows and columns dropped)."""
    h, w = plane.shape
    local = sum(
        plane[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    )
    return np.asarray(np.abs(plane[1:-1, 1:-1] - local / 9.0))


def test_the_mouth_interior_carries_the_paintings_grain(
    prepared_avatar: Callable[[str], PreparedAvatar],
) -> None:
    """The drawn interior of an open mouth on the Mona Lisa is as grainy as the painted skin
    round it (a clean interior read as pasted onto the craquelure)."""
    avatar = prepared_avatar("mona_lisa.jpg")
    renderer = AvatarRenderer(avatar)
    still = renderer.render(avatar.source_motion[None])[0].astype(np.float32)
    opened = renderer.render(ms.with_fields(avatar.source_motion, jawOpen=0.8))[0].astype(
        np.float32
    )
    corners = avatar.landmarks_px[[ft.MOUTH_CORNER_RIGHT, ft.MOUTH_CORNER_LEFT], :2]
    (x0, y0), (x1, y1) = corners.min(0).astype(int), corners.max(0).astype(int)
    width = x1 - x0
    box = (slice(y0 - width // 3, y1 + width // 2), slice(x0, x1))
    green_open, green_still = opened[box][..., 1], still[box][..., 1]
    changed = (np.abs(opened[box] - still[box]).max(-1) > 40.0)[1:-1, 1:-1]
    # Well inside the painted interior: its edges and teeth outlines are not grain.
    inner = changed.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            inner &= np.roll(np.roll(changed, dy, 0), dx, 1)
    assert inner.sum() > 200, "the mouth did not open"
    interior = float(np.median(_grain(green_open)[inner]))
    skin = float(np.median(_grain(green_still)[~changed]))
    assert interior >= 0.5 * skin, (
        f"the open mouth's interior varies {interior:.2f} levels pixel to pixel, the painted "
        f"skin round it {skin:.2f}"
    )
