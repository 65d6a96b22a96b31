"""Embedding: add the payload's mark to every frame, equally to R, G and B, shaped by texture.

The same offset on all three channels moves luma only (the channel every codec keeps best) and
leaves hue alone. The mark's amplitude follows the frame's texture: its local contrast (grey
levels, the least over a small neighbourhood, so an isolated line does not count as texture) times
AMPLITUDE_PER_CONTRAST, between AMPLITUDE_RANGE. Hair, foliage and paint cracks carry up to 6 grey
levels, where neither the eye nor a codec's quantiser removes them; flat cartoon skin and plain
backgrounds carry the floor: 1.5 grey levels (round 2: 1.0), 2.0 in a stream's first second
(START_AMPLITUDE_FLOOR). Round 3 raised it because VP8 at 300 kbit/s kept 5-13 % of a 1.0 mark on
a flat cartoon's flat areas (its quantiser's dead zone), and drawn flat cartoons lost most of
their VP8 300k windows, not only the first (round 2 found 8 of 60 on fifteen flat-art renders).
Zoomed crops: side by side at 2x, the higher floor's grain on flat skin is a little stronger and
more even than round 2's; round 2's dots where a mouth had been open when the map was made are
still there (docs/watermark.md). The whole mark is then scaled down, where needed, to at most
STRENGTH_RMS (PSNR >= 40.8 dB): a textured painting is at that bound, a flat cartoon under it.

The shaping follows the content: the map is made from the current frame one horizontal strip at a
time (STRIPS strips, one every STRIP_FRAMES frames), so all of it is made again every
RESHAPE_FRAMES frames (1 s at 40 fps) and a head that turns or moves for good takes the shaping
with it within a second. Round 2 made the whole map at once each second: 2 ms in a tight loop,
6-17 ms measured inside a stream on this busy machine, on the worker thread; a strip is 0.26 ms,
its planes 0.06. The first frame pays no map (the mark starts at the start floor everywhere; the
map is made from frames 1..STRIPS, a strip a frame). What moves within a second (mouths, eyes) is
not followed; instead each strip's amplitude is the least of its last two snapshots (1 s apart),
so a mouth open in only one of them leaves no stronger mark where it closes (a cartoon, the anime
portrait and the caricature: 0.7-3.1 % of a frame's pixels more than 1 grey level over what their
texture warrants -> 0.5-1.5 %); one open in both still does.
Between strips the mark stays still, as the detector's averaging over a window wants, and its
offsets are fixed: two uint8 planes (positive and negative parts), so a frame costs one
saturating add and one saturating subtract (OpenCV).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.watermark.pattern import TILE_PX, mark_tile
from engine.watermark.payload import WatermarkPayload

FRAME_PX = 512
STRENGTH_RMS = 2.3  # grey levels, the most over the frame: PSNR >= 40.8 dB
AMPLITUDE_PER_CONTRAST = 1.5  # mark amplitude (grey levels RMS) per grey level of local contrast
AMPLITUDE_RANGE = (1.5, 6.0)  # grey levels RMS: flat areas .. the most textured
# The floor for the map made in a stream's first RESHAPE_FRAMES frames (the first frame's map and
# its STRIPS strips). A codec starts cold: VP8 at 300 kbit/s spends its first second's bits on the
# key frame and what moves, and what it then skips (a cartoon's flat background and skin) stays as
# that second left it. The same first second encoded again right after itself scored higher on two
# of three flat cartoons (z 4.6 -> 5.6, 5.9 -> 7.4; 6.7 -> 6.7): the missed first windows were the
# codec's start as much as the content. A floor of 2.0 for the first second only found all 16 VP8
# 300k windows of the four tuning cartoons (first windows z 5.0-7.5, two missed -> 7.1-12.5); the
# later windows gain too (the codec keeps the first second's mark where it skips).
START_AMPLITUDE_FLOOR = 2.0
CONTRAST_PX = 5  # local contrast: the standard deviation over this window
ERODE_PX = 9  # texture: the least contrast within this window
SMOOTH_PX = 9  # the map is averaged over this window: it changes slowly across the frame
RESHAPE_FRAMES = 40  # the map follows the content: made again from the frame every this many
STRIPS = 8  # ... one horizontal strip at a time, spread evenly over those frames
STRIP_PX = FRAME_PX // STRIPS
STRIP_FRAMES = RESHAPE_FRAMES // STRIPS
# rows a strip's filters read beyond it: the contrast window's, the erosion's and the smoothing's
# half-widths
MARGIN_PX = CONTRAST_PX // 2 + ERODE_PX // 2 + SMOOTH_PX // 2
RESCALE_TOLERANCE = 0.02  # the cap a strip was made with may differ from the map's by this much


class WatermarkEmbedder:
    """Marks a stream's frames. Until a map is made, the mark is START_AMPLITUDE_FLOOR everywhere
    (its planes made here, at construction, so the first frame pays only the add); the map is made
    from frames 1..STRIPS, one horizontal strip a frame, and after that one strip is made again
    every STRIP_FRAMES frames: the whole map is renewed once every RESHAPE_FRAMES frames and no
    frame pays more than one strip (1/STRIPS of a whole map)."""

    def __init__(self, payload: WatermarkPayload, strength_rms: float = STRENGTH_RMS) -> None:
        self.payload = payload
        self._strength_rms = strength_rms
        reps = -(-FRAME_PX // TILE_PX)
        mark = np.tile(mark_tile(payload.symbols()), (reps, reps))[:FRAME_PX, :FRAME_PX]
        self._mark = np.ascontiguousarray(mark, np.float32)
        self._frames = 0
        # the amplitude before the frame-wide cap, and each strip's sum of its squares
        self._amplitude = np.full((FRAME_PX, FRAME_PX), START_AMPLITUDE_FLOOR, np.float32)
        self._last_texture = self._amplitude.copy()
        self._strip_power = np.array([_power(self._amplitude[_rows(k)]) for k in range(STRIPS)])
        self._plus = np.zeros((FRAME_PX, FRAME_PX, 3), np.uint8)
        self._minus = np.zeros((FRAME_PX, FRAME_PX, 3), np.uint8)
        self._scale = 1.0
        self._shape()

    def embed(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A marked copy of a (512, 512, 3) uint8 frame (which may also remake a strip of the
        map)."""
        if rgb.shape != (FRAME_PX, FRAME_PX, 3):
            raise ValueError(f"the watermark expects 512x512 RGB frames, got {rgb.shape}")
        strip = self._strip_due()
        if strip is not None:
            rows = _rows(strip)
            floor = START_AMPLITUDE_FLOOR if self._frames < RESHAPE_FRAMES else AMPLITUDE_RANGE[0]
            texture = texture_amplitude(rgb, rows, floor)
            if self._frames > STRIPS:
                # the least of this snapshot and the last: a mouth open in only one of them does
                # not leave a strong mark where it closes (texture that comes to stay takes two)
                self._amplitude[rows] = np.minimum(texture, self._last_texture[rows])
            else:
                self._amplitude[rows] = texture
            self._last_texture[rows] = texture
            self._strip_power[strip] = _power(self._amplitude[rows])
            self._shape(strip)
        self._frames += 1
        return np.asarray(cv2.subtract(cv2.add(rgb, self._plus), self._minus), np.uint8)

    def _strip_due(self) -> int | None:
        """The strip of the map this frame makes (again), if any."""
        if 1 <= self._frames <= STRIPS:
            return self._frames - 1
        if self._frames > STRIPS and self._frames % STRIP_FRAMES == 0:
            return self._frames // STRIP_FRAMES % STRIPS
        return None

    def _shape(self, strip: int | None = None) -> None:
        """The mark's planes for one strip (None: all) from its amplitude, capped by the whole
        map's RMS. When that cap moves by more than RESCALE_TOLERANCE (a map being made over
        frames, a scene that changes), every strip is made again with it: about 0.06 ms a strip."""
        rms = math.sqrt(float(self._strip_power.sum()) / FRAME_PX**2)
        scale = min(1.0, self._strength_rms / max(rms, 1e-6))
        if strip is None or abs(scale / self._scale - 1.0) > RESCALE_TOLERANCE:
            strips: range | tuple[int] = range(STRIPS)
            self._scale = scale
        else:
            strips = (strip,)
        for each in strips:
            rows = _rows(each)
            mark = cv2.multiply(self._mark[rows], self._amplitude[rows], scale=self._scale)
            # each sign's part, rounded and saturated to uint8 on one channel, then to R, G, B
            plus = cv2.convertScaleAbs(np.maximum(mark, 0.0))
            minus = cv2.convertScaleAbs(np.minimum(mark, 0.0))
            self._plus[rows] = cv2.merge([plus, plus, plus])
            self._minus[rows] = cv2.merge([minus, minus, minus])


def _rows(strip: int) -> slice:
    return slice(strip * STRIP_PX, (strip + 1) * STRIP_PX)


def _power(amplitude: NDArray[np.float32]) -> float:
    return float(cv2.norm(amplitude, cv2.NORM_L2SQR))


def texture_amplitude(
    rgb: NDArray[np.uint8], rows: slice = slice(0, FRAME_PX), floor: float = AMPLITUDE_RANGE[0]
) -> NDArray[np.float32]:
    """(rows, 512) the mark's RMS amplitude, grey levels, from the frame's texture in those rows,
    before the frame-wide cap. The filters read MARGIN_PX rows beyond them: the rows come out as
    they would from the whole frame."""
    top, bottom = max(0, rows.start - MARGIN_PX), min(FRAME_PX, rows.stop + MARGIN_PX)
    luma = np.asarray(cv2.cvtColor(rgb[top:bottom], cv2.COLOR_RGB2GRAY), np.float32)
    amplitude = _amplitude_of(luma, CONTRAST_PX, ERODE_PX, SMOOTH_PX, floor)
    return amplitude[rows.start - top : rows.stop - top]


def _amplitude_of(
    luma: NDArray[np.float32], contrast_px: int, erode_px: int, smooth_px: int, floor: float
) -> NDArray[np.float32]:
    window = (contrast_px, contrast_px)
    mean = cv2.blur(luma, window)
    contrast = cv2.sqrt(np.maximum(cv2.blur(luma * luma, window) - mean * mean, 0.0))
    # Texture, not edges: an isolated line has flat skin beside it, where the mark would show.
    texture = cv2.erode(contrast, np.ones((erode_px, erode_px), np.uint8))
    texture = cv2.blur(texture, (smooth_px, smooth_px))
    return np.asarray(
        np.clip(AMPLITUDE_PER_CONTRAST * texture, floor, AMPLITUDE_RANGE[1]), np.float32
    )


def amplitude_map(rgb: NDArray[np.uint8], strength_rms: float) -> NDArray[np.float32]:
    """(512, 512) the mark's RMS amplitude per pixel, in grey levels, from a whole frame's texture
    (capped to strength_rms RMS over the frame)."""
    amplitude = texture_amplitude(rgb)
    rms = float(np.sqrt(np.mean(amplitude**2)))
    return np.asarray(amplitude * min(1.0, strength_rms / rms), np.float32)
