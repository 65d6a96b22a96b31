"""Avatar preparation: real portraits become 512x512 avatars; unusable files get clear errors."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from engine.avatar.prepare import MIN_FACE_WIDTH_PX, face_width_px, prepare_avatar
from engine.avatar.prepared import CROP_SIZE_PX, PreparedAvatar
from engine.errors import AvatarError
from models import face_topology as topo
from models import motion_space

PORTRAITS = [
    "astronaut.png",
    "mona_lisa.jpg",
    "mona_lisa_197px.jpg",
    pytest.param("caricature.png", marks=pytest.mark.local_media),
]


def encode(rgb: np.ndarray, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def roll_deg(landmarks_px: np.ndarray) -> float:
    right = landmarks_px[list(topo.EYE_RIGHT_CORNERS), :2].mean(axis=0)
    left = landmarks_px[list(topo.EYE_LEFT_CORNERS), :2].mean(axis=0)
    return math.degrees(math.atan2(left[1] - right[1], left[0] - right[0]))


def refused(data: bytes) -> AvatarError:
    with pytest.raises(AvatarError) as caught:
        prepare_avatar(data)
    return caught.value


@pytest.fixture(scope="module")
def astronaut(portrait_path: Callable[[str], Path]) -> np.ndarray:
    return np.asarray(Image.open(portrait_path("astronaut.png")).convert("RGB"))


@pytest.mark.parametrize("name", PORTRAITS)
def test_portrait_becomes_a_centred_512_avatar(
    name: str, prepared_avatar: Callable[[str], PreparedAvatar]
) -> None:
    avatar = prepared_avatar(name)
    assert avatar.image.shape == (CROP_SIZE_PX, CROP_SIZE_PX, 3) and avatar.image.dtype == np.uint8
    assert avatar.landmarks_px.shape == (topo.NUM_LANDMARKS, 3)
    assert avatar.landmarks_px.dtype == np.float32
    xy = avatar.landmarks_px[:, :2]
    assert xy.min() >= 0 and xy.max() < CROP_SIZE_PX, "every landmark lies inside the crop"
    # 2.6 face widths per crop leaves room for head motion, hair and shoulders; a portrait cut
    # close around the head gets down to 2.2 rather than made-up edges (fit_inside).
    assert 0.3 < face_width_px(avatar.landmarks_px) / CROP_SIZE_PX < 0.47
    nose_x, nose_y = avatar.landmarks_px[topo.NOSE_TIP, :2]
    assert abs(nose_x - CROP_SIZE_PX / 2) < 0.1 * CROP_SIZE_PX
    assert 0.35 * CROP_SIZE_PX < nose_y < 0.65 * CROP_SIZE_PX
    assert abs(roll_deg(avatar.landmarks_px)) < 15


def test_a_portrait_cut_close_around_the_head_is_framed_inside_it(astronaut: np.ndarray) -> None:
    """Regression: a selfie cut through the hair got a smeared column above the head.

    The square left the picture at the top and sides, where warp_square can only repeat and
    blur edge pixels. Now it is moved and tightened to stay inside, so the top rows of the
    avatar are the portrait's own hair, as sharp as in the picture.
    """
    cut = np.ascontiguousarray(astronaut[24:400, 110:400])  # through the hair, tight sides
    avatar = prepare_avatar(encode(cut, "PNG"))
    x0, y0, x1, y1 = avatar.meta["crop_box_px"]
    assert x0 >= -0.5 and y0 >= -0.5 and x1 <= cut.shape[1] + 0.5, "square inside at top and sides"
    width = face_width_px(avatar.landmarks_px) / CROP_SIZE_PX
    assert 0.41 < width < 0.47, "tighter than 2.6 face widths, no tighter than 2.2"

    def detail(rows: np.ndarray) -> float:  # mean vertical step between rows, grey levels
        return float(np.abs(np.diff(rows.astype(np.float32), axis=0)).mean())

    scale = CROP_SIZE_PX / (x1 - x0)
    top_rows = avatar.image[: int(20 * scale)]
    assert detail(top_rows) > 0.5 * detail(cut[:20]) * scale**-1, "hair, not a repeated row"


@pytest.mark.parametrize("name", PORTRAITS)
def test_person_matte_covers_the_face_and_background_hides_it(
    name: str, prepared_avatar: Callable[[str], PreparedAvatar]
) -> None:
    avatar = prepared_avatar(name)
    alpha = avatar.person_alpha
    assert alpha.shape == (CROP_SIZE_PX, CROP_SIZE_PX) and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    oval = np.round(avatar.landmarks_px[list(topo.FACE_OVAL), :2]).astype(int)
    assert alpha[oval[:, 1], oval[:, 0]].min() > 0.9, "the whole face oval is person"
    assert alpha[:24, :24].mean() < 0.5 and alpha[:24, -24:].mean() < 0.5, "top corners are scene"
    face = avatar.landmarks_px[list(topo.FACE_OVAL), :2]
    x0, y0 = face.min(axis=0).astype(int)
    x1, y1 = face.max(axis=0).astype(int)
    image_face = avatar.image[y0:y1, x0:x1].astype(np.float32)
    background_face = avatar.background[y0:y1, x0:x1].astype(np.float32)
    assert np.abs(image_face - background_face).mean() > 8, "the face is painted out"
    near_person = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((41, 41), np.uint8))
    far = near_person == 0
    assert np.array_equal(avatar.background[far], avatar.image[far]), "the scene is kept as is"


@pytest.mark.parametrize("name", ["astronaut.png", "mona_lisa_197px.jpg"])
def test_save_then_load_gives_identical_avatar(
    name: str, prepared_avatar: Callable[[str], PreparedAvatar], tmp_path: Path
) -> None:
    avatar = prepared_avatar(name)
    path = tmp_path / "avatar.npz"
    avatar.save(path)
    loaded = PreparedAvatar.load(path)
    for field in ("image", "landmarks_px", "source_motion", "person_alpha", "background"):
        original, again = getattr(avatar, field), getattr(loaded, field)
        assert again.dtype == original.dtype and np.array_equal(again, original), field
    assert loaded.rig.keys() == avatar.rig.keys()
    for key, value in avatar.rig.items():
        assert np.array_equal(loaded.rig[key], value), key
    assert loaded.meta == avatar.meta


def test_meta_records_the_source_and_crop(
    prepared_avatar: Callable[[str], PreparedAvatar], portrait_path: Callable[[str], Path]
) -> None:
    avatar = prepared_avatar("mona_lisa.jpg")
    data = portrait_path("mona_lisa.jpg").read_bytes()
    assert avatar.meta["source_name"] == "mona_lisa.jpg"
    assert avatar.meta["source_sha256"] == hashlib.sha256(data).hexdigest()
    assert avatar.meta["source_size_px"] == [720, 1280]
    x0, y0, x1, y1 = avatar.meta["crop_box_px"]
    assert 0 < x0 < x1 < 720 and 0 < y0 < y1 < 1280 and x1 - x0 == pytest.approx(y1 - y0)
    assert avatar.meta["crop_rotation_deg"] == 0.0
    assert "face_mesh" in avatar.meta["landmark_model"]
    assert avatar.source_motion.shape == (motion_space.MOTION_DIM,)
    assert np.isfinite(avatar.source_motion).all()


def test_small_portrait_is_accepted_with_margin(portrait_path: Callable[[str], Path]) -> None:
    """The 197x197 Mona Lisa is a low-resolution input that must still be prepared."""
    from engine.avatar.image_io import load_image_checked
    from engine.avatar.landmarks import face_models
    from engine.avatar.prepare import single_face_landmarks

    rgb = load_image_checked(portrait_path("mona_lisa_197px.jpg").read_bytes())
    width = face_width_px(single_face_landmarks(face_models(), rgb))
    assert width > 1.5 * MIN_FACE_WIDTH_PX


def test_bytes_webp_transparent_png_and_phone_jpeg_are_accepted(astronaut: np.ndarray) -> None:
    avatar = prepare_avatar(encode(astronaut, "WEBP", quality=90), name="astro.webp")
    assert avatar.meta["source_name"] == "astro.webp"
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0  # a transparent corner is composited over white
    avatar = prepare_avatar(encode(rgba, "PNG"))
    assert avatar.landmarks_px.shape == (topo.NUM_LANDMARKS, 3)
    mpo = encode(astronaut, "MPO", save_all=True, append_images=[Image.fromarray(astronaut)])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"  # a phone camera's JPEG
    assert prepare_avatar(mpo).image.shape == (CROP_SIZE_PX, CROP_SIZE_PX, 3)


def test_exif_orientation_is_applied(astronaut: np.ndarray) -> None:
    """A phone photo stored sideways with an EXIF orientation tag is prepared upright."""
    sideways = np.ascontiguousarray(np.rot90(astronaut))  # stored rotated 90 degrees CCW
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    avatar = prepare_avatar(encode(sideways, "JPEG", quality=92, exif=exif.tobytes()))
    assert avatar.meta["crop_rotation_deg"] == 0.0
    assert avatar.meta["source_size_px"] == [512, 512]
    assert abs(roll_deg(avatar.landmarks_px)) < 10


def test_strongly_tilted_head_is_levelled(astronaut: np.ndarray) -> None:
    tilted = np.asarray(Image.fromarray(astronaut).rotate(30, Image.Resampling.BICUBIC))
    avatar = prepare_avatar(encode(tilted, "PNG"))
    assert abs(avatar.meta["crop_rotation_deg"]) == pytest.approx(30, abs=4)
    assert abs(roll_deg(avatar.landmarks_px)) < 4


def test_no_face_in_a_gradient_or_landscape() -> None:
    gradient = np.tile(np.linspace(0, 255, 640)[None, :, None], (480, 1, 3)).astype(np.uint8)
    rng = np.random.default_rng(0)
    landscape = np.zeros((480, 640, 3), np.float32)
    landscape[:200], landscape[200:] = (120, 170, 230), (60, 140, 50)  # sky over grass
    landscape = np.clip(landscape + rng.normal(0, 12, landscape.shape), 0, 255).astype(np.uint8)
    for picture in (gradient, landscape):
        error = refused(encode(picture, "PNG"))
        assert error.reason == "no_face"
        assert "no face" in str(error)


def test_several_faces_are_refused_with_their_count(astronaut: np.ndarray) -> None:
    error = refused(encode(np.concatenate([astronaut, astronaut], axis=1), "PNG"))
    assert error.reason == "several_faces"
    assert "found 2 faces" in str(error) and "exactly one" in str(error)


def test_small_face_in_a_large_picture_is_found_once(astronaut: np.ndarray) -> None:
    """Regression: tiled detection counted a chest patch as a second face ("found 2 faces")."""
    canvas = np.full((1600, 1600, 3), 255, np.uint8)
    canvas[20:250, 20:250] = np.asarray(Image.fromarray(astronaut).resize((230, 230)))
    avatar = prepare_avatar(encode(canvas, "PNG"))
    x0, y0, x1, y1 = avatar.meta["crop_box_px"]
    assert x1 < 300 and y1 < 300, "the crop is around the small face in the corner"
    assert abs(roll_deg(avatar.landmarks_px)) < 10


def test_tiny_face_is_too_small(astronaut: np.ndarray) -> None:
    canvas = np.full((1600, 1600, 3), 255, np.uint8)
    canvas[20:220, 20:220] = np.asarray(Image.fromarray(astronaut).resize((200, 200)))
    error = refused(encode(canvas, "PNG"))
    assert error.reason == "face_too_small"
    assert f"at least {MIN_FACE_WIDTH_PX} pixels" in str(error)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_unsupported(astronaut: np.ndarray, fmt: str) -> None:
    error = refused(encode(astronaut, fmt))
    assert error.reason == "unsupported_format"
    assert fmt in str(error) and "JPEG, PNG or WebP" in str(error)


def test_text_file_is_unsupported() -> None:
    error = refused(b"name,portrait\nmona,lisa\n")
    assert error.reason == "unsupported_format"
    assert "not a JPEG, PNG or WebP image" in str(error)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_file_is_corrupt(astronaut: np.ndarray, fmt: str) -> None:
    data = encode(astronaut, fmt)
    for cut in (len(data) // 2, 20):
        error = refused(data[:cut])
        assert error.reason == "corrupt_file", (cut, error)
        assert "damaged or incomplete" in str(error)


def png_claiming_size(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height (with a valid checksum)."""
    data = bytearray(encode(np.zeros((1, 1, 3), np.uint8), "PNG"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize("size", [(8000, 6000), (100_000, 100_000)])
def test_too_many_pixels_is_refused_before_decoding(size: tuple[int, int]) -> None:
    error = refused(png_claiming_size(*size))
    assert error.reason == "too_many_pixels"
    assert "megapixels" in str(error)


def test_padding_beyond_the_picture_does_not_streak() -> None:
    """A crop that runs past the bottom of a picture repeats its last row; far from the edge the
    padding must be a soft fill, not the row's columns drawn out as stripes."""
    from engine.avatar.image_io import square_transform, warp_square

    image = np.full((512, 512, 3), 120, np.uint8)
    image[-40:] = np.where((np.arange(512) // 24) % 2 == 0, 250, 20)[None, :, None]  # stripes
    # A 512 px crop centred 150 px above the bottom edge: its last ~100 rows lie outside.
    out = warp_square(image, square_transform((256.0, 362.0), 512.0, 0.0, 512), 512)
    near_edge = out[375:395, 100:412].astype(np.float32)  # inside the picture, the stripes
    far_outside = out[-20:, 100:412].astype(np.float32)  # 80-100 px past the edge
    assert near_edge.std(axis=1).mean() > 80  # the stripes themselves: 0.5 x (250 - 20)
    assert far_outside.std(axis=1).mean() < 10


def test_a_cartoon_on_a_plain_backdrop_keeps_its_hair_and_a_clean_backdrop(
    tmp_path: Path,
) -> None:
    """Bug: on a clip-art portrait on a plain backdrop whose hair the top edge cuts, the crop
    repeated the hair's top row upwards into a smeared column of its colour above the head (and
    beside it where a side edge cut it), and
    person segmentation missed cartoon hair, which then stayed in the background plate (inpainted
    into blots of its colour) while the head turned."""
    from tests.drawn_portrait import draw_anime_portrait

    drawn = np.asarray(draw_anime_portrait())[150:, 170:]  # top and left edges cut the hair
    backdrop = drawn[0, 0].astype(np.float32)
    path = tmp_path / "cut.png"
    Image.fromarray(drawn).save(path)
    avatar = prepare_avatar(path)
    hair = np.array([92, 60, 120], np.float32)  # draw_anime_portrait's hair colour
    off_backdrop = np.abs(avatar.background.astype(np.float32) - backdrop).max(-1)
    assert (off_backdrop > 24).mean() < 0.02, "the background plate keeps hair"
    # Above the picture's top the crop is the backdrop, not the hair smeared up.
    top_rows = avatar.image[:8].astype(np.float32)
    assert np.abs(top_rows - backdrop).max(-1).mean() < 8
    # ... and beside it down to the chin.
    chin_y = int(avatar.landmarks_px[topo.CHIN, 1])
    left_columns = avatar.image[:chin_y, :6].astype(np.float32)
    assert np.abs(left_columns - backdrop).max(-1).mean() < 8
    # The hair is the person's: each hair pixel of the crop is in the matte.
    is_hair = np.abs(avatar.image.astype(np.float32) - hair).max(-1) < 12
    assert is_hair.sum() > 2000
    assert avatar.person_alpha[is_hair].min() > 0.5
