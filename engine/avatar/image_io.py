"""Portrait files in, checked before any pixel is decoded; square crops out of them.

Only JPEG, PNG and WebP are accepted. Each refusal is an AvatarError with a stable reason code
and a message a user can act on. Crops are affine warps of a square (any size, rotation) to a
fixed pixel size, with points mapped by the same transform.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import AvatarError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 megapixels: a 7300x5500 photo; checked from the header, pre-decode
RGBImage = NDArray[np.uint8]  # (H, W, 3) RGB
Float32Array = NDArray[np.float32]
Affine = NDArray[np.float64]  # (2, 3): source pixels -> output pixels

# Pillow's names; MPO is a JPEG with extra pictures appended, as many phone cameras write.
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP")
_ALLOWED_TEXT = "JPEG, PNG or WebP"


def read_source(source: Path | bytes) -> bytes:
    """The portrait file's bytes, refused when larger than MAX_FILE_BYTES."""
    if not isinstance(source, bytes | bytearray):
        size = Path(source).stat().st_size
        if size > MAX_FILE_BYTES:  # refuse before reading a huge file into memory
            raise _too_many_bytes(size)
        source = Path(source).read_bytes()
    data = bytes(source)
    if len(data) > MAX_FILE_BYTES:
        raise _too_many_bytes(len(data))
    return data


def load_image_checked(data: bytes) -> RGBImage:
    """Decode a JPEG/PNG/WebP file to (H, W, 3) uint8 RGB, upright (EXIF) and alpha over white."""
    declared = _sniff_format(data)
    image = _open(data, declared)
    _check_format(image)
    _check_pixels(image.size)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        return _to_rgb(image)
    except (OSError, ValueError, SyntaxError) as exc:
        raise _corrupt(declared, exc) from exc


def _sniff_format(data: bytes) -> str | None:
    """The allowed format the file's magic bytes claim, if any."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _open(data: bytes, declared: str | None) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 MP; _check_pixels refuses those with a clearer message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise AvatarError(
            f"the image is too large to prepare (over {MAX_PIXELS // 1_000_000} megapixels)",
            "too_many_pixels",
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if declared is not None:
            raise _corrupt(declared, exc) from exc
        raise AvatarError(
            f"this file is not a {_ALLOWED_TEXT} image; save the portrait in one of those formats",
            "unsupported_format",
        ) from exc


def _check_format(image: Image.Image) -> None:
    if image.format not in ALLOWED_FORMATS:
        raise AvatarError(
            f"{image.format or 'this'} images are not supported; use a {_ALLOWED_TEXT} file",
            "unsupported_format",
        )


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise AvatarError(
            f"the image is {width}x{height} ({width * height / 1e6:.0f} megapixels); the limit is "
            f"{MAX_PIXELS // 1_000_000} megapixels, so scale the portrait down first",
            "too_many_pixels",
        )
    if width < 1 or height < 1:
        raise AvatarError(f"the image is {width}x{height}: it has no pixels", "corrupt_file")


def _to_rgb(image: Image.Image) -> RGBImage:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _corrupt(declared: str | None, exc: Exception) -> AvatarError:
    kind = declared or "image"
    return AvatarError(
        f"the {kind} file is damaged or incomplete and cannot be decoded ({exc})", "corrupt_file"
    )


def _too_many_bytes(size: int) -> AvatarError:
    return AvatarError(
        f"the file is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB",
        "too_many_bytes",
    )


def square_transform(
    centre_px: tuple[float, float], side_px: float, angle_rad: float, out_px: int
) -> Affine:
    """(2, 3) affine from source pixels to an out_px square of side side_px, rotated by -angle."""
    scale = out_px / side_px
    cos, sin = np.cos(angle_rad) * scale, np.sin(angle_rad) * scale
    cx, cy = centre_px
    half = out_px / 2
    return np.array(
        [[cos, sin, half - cos * cx - sin * cy], [-sin, cos, half + sin * cx - cos * cy]],
        np.float64,
    )


PLAIN_STEP = 12  # a backdrop pixel: within this of the backdrop's colour, per channel
PLAIN_SHARE = 0.6  # a plain backdrop: this share of the top row and side columns is its colour


def plain_backdrop(rgb: RGBImage) -> NDArray[np.float32] | None:
    """The colour of a plain backdrop (clip art, anime avatars, studio photos), or None.

    Judged on the picture's top row and side columns (the bottom is usually the body): plain
    where PLAIN_SHARE of them lie within PLAIN_STEP of their median colour."""
    edge = np.concatenate([rgb[0], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    colour = np.median(edge, axis=0)
    share = float((np.abs(edge - colour).max(axis=1) <= PLAIN_STEP).mean())
    return colour.astype(np.float32) if share >= PLAIN_SHARE else None


def warp_square(
    rgb: RGBImage,
    transform: Affine,
    out_px: int,
    backdrop: NDArray[np.float32] | None = None,
    backdrop_down_to_px: float = 0.0,
) -> RGBImage:
    """Resample the square `transform` maps to (out_px, out_px).

    Where the square leaves the image, edge pixels are repeated and then blurred: mirroring would
    duplicate hair and chins, plain repetition leaves streaks. Above a picture on a plain
    `backdrop`, and beside it down to its row `backdrop_down_to_px` (the chin: the shoulders
    below run on), the square is that colour: hair cut by the top or a side edge had become a
    smeared column of its colour. Shrinking first averages the covered region down
    (INTER_AREA): warpAffine alone would alias.
    """
    picture_width, picture_transform = rgb.shape[1], transform  # before any shrinking
    scale = float(np.hypot(transform[0, 0], transform[0, 1]))
    if scale < 0.75:
        rgb, transform = _shrink_covered_region(rgb, transform, out_px, scale)
    size = (out_px, out_px)
    flags, border = cv2.INTER_LANCZOS4, cv2.BORDER_REPLICATE
    warped = np.asarray(
        cv2.warpAffine(rgb, transform, size, flags=flags, borderMode=border), np.uint8
    )
    ones = np.ones(rgb.shape[:2], np.float32)
    inside = np.asarray(cv2.warpAffine(ones, transform, size, flags=cv2.INTER_LINEAR), np.float32)
    if backdrop is not None:
        inverse = cv2.invertAffineTransform(picture_transform)
        rows, cols = np.mgrid[0:out_px, 0:out_px].astype(np.float32)
        source_x = inverse[0, 0] * cols + inverse[0, 1] * rows + inverse[0, 2]
        source_y = inverse[1, 0] * cols + inverse[1, 1] * rows + inverse[1, 2]
        beside = np.maximum(-source_x, source_x - (picture_width - 1))
        beside = np.clip(beside, 0.0, 1.0) * (source_y <= backdrop_down_to_px)
        above = np.maximum(np.clip(-source_y, 0.0, 1.0), beside)[..., None]  # 1 off the picture
        mixed = warped * (1.0 - above) + backdrop * above
        warped = np.asarray(np.clip(np.round(mixed), 0, 255), np.uint8)
        inside = np.maximum(inside, above[..., 0])
    if inside.min() > 0.999:
        return warped
    return _blur_outside(warped, inside, sigma_px=out_px / 40)


def apply_transform(transform: Affine, points_px: Float32Array) -> Float32Array:
    """Map (N, 2+) points with a (2, 3) affine; extra columns (depth) are scaled by its scale."""
    out = points_px.astype(np.float32).copy()
    out[:, :2] = points_px[:, :2] @ transform[:, :2].T + transform[:, 2]
    out[:, 2:] *= float(np.hypot(transform[0, 0], transform[0, 1]))
    return out


def _shrink_covered_region(
    rgb: RGBImage, transform: Affine, out_px: int, scale: float
) -> tuple[RGBImage, Affine]:
    inverse = cv2.invertAffineTransform(transform)
    corners = np.array([[0, 0], [out_px, 0], [0, out_px], [out_px, out_px]], np.float64)
    covered = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = rgb.shape[:2]
    x0, y0 = np.clip(np.floor(covered.min(axis=0)).astype(int) - 8, 0, [width - 1, height - 1])
    x1, y1 = np.clip(
        np.ceil(covered.max(axis=0)).astype(int) + 8, [x0 + 1, y0 + 1], [width, height]
    )
    region = rgb[y0:y1, x0:x1]
    small_w, small_h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
    # small pixel q is source pixel (q / k + origin): fold that into the transform.
    to_source = np.array([[(x1 - x0) / small_w, 0, x0], [0, (y1 - y0) / small_h, y0], [0, 0, 1]])
    return np.asarray(small, np.uint8), np.asarray(transform @ to_source, np.float64)


def _blur_outside(warped: RGBImage, inside: Float32Array, sigma_px: float) -> RGBImage:
    """Blur the repeated edge pixels, more the further they are from the picture: near the edge
    the padding continues the picture softly, far from it repeated rows no longer show as
    streaks (a shirt's white column ran to the bottom of a cartoon's crop)."""
    blurred = cv2.GaussianBlur(warped, (0, 0), sigma_px).astype(np.float32)
    # The far blur is wide: computed at 1/8 size (150 ms -> a few at full size).
    height, width = warped.shape[:2]
    small = cv2.resize(warped, (width // 8, height // 8), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small.astype(np.float32), (0, 0), sigma_px / 2.0)
    far = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    outside = 1.0 - cv2.GaussianBlur(inside, (0, 0), sigma_px / 3)
    weight = np.clip(outside * 2.0, 0.0, 1.0)[..., None]  # fully blurred a few px past the edge
    distance_px = cv2.distanceTransform((inside < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    farness = np.clip(distance_px / (4.0 * sigma_px), 0.0, 1.0)[..., None]
    padding = blurred + (far - blurred) * farness
    out = padding * weight + warped.astype(np.float32) * (1.0 - weight)
    return np.asarray(np.clip(np.round(out), 0, 255), np.uint8)
