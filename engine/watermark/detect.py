"""Detection: is the mark in these frames, which payload, and how sure.

A window of frames (1 s of video, or one image) is averaged to one luma picture. For each scale
candidate (engine.watermark.scale: the picture may have been downscaled, or cropped and resized)
the picture is brought back to the original pixel size, flattened (its smooth shading removed and
each pixel divided by its neighbourhood's RMS, so that a few strong edges do not drown the mark
that flat areas carry), folded onto one TILE_PX tile (every tile of the frame summed: the mark
adds up coherently, the portrait does not), whitened in the pattern's
frequency ring (each bin divided by its neighbourhood's power, to WHITEN_POWER), and correlated
with the sync pattern over every cyclic shift. The best peak's z-score (peak over the correlation's
own spread) decides presence; the data patterns are then read at the 1024 shifts relative to that
peak, and the CRC checks the payload.

False-positive rate: under "no mark" each correlation value is close to a standard normal (a
weighted sum of hundreds of frequency bins with unrelated phases), so the chance that the best of
N values reaches z is at most N * Q(z) (union bound). The upright hypotheses (N = HYPOTHESES) get
UPRIGHT_SHARE of the budget, the rotated ones (a window not found upright, turned level by the
angle its autocorrelation shows) the rest, counted as ROTATED_ANGLES * HYPOTHESES. The data
patterns are independent of the sync pattern, so without a mark the payload read is noise and
passes the 8-bit CRC with probability 1/256: a window whose payload checks out has its bound
divided by 256. A window is "detected" when its bound is at most DETECT_FPR; confidence = 1 -
bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.watermark.pattern import (
    SHIFT_STEP_PX,
    SHIFTS_PER_AXIS,
    TILE_PX,
    band_mask,
    patterns,
)
from engine.watermark.payload import CRC_BITS, SYMBOLS, WatermarkPayload
from engine.watermark.scale import (
    CANDIDATES,
    ROTATION_RANGE_DEG,
    autocorrelation,
    flatten,
    rotation_deg,
    scale_candidates,
)

DETECT_FPR = 1e-6  # per 1 s window
READ_BELOW_FPR = 1e-2  # the payload is read (and its CRC checked) from this sync evidence on
MIN_SIDE_PX = 96
# Each fold bin is divided by its neighbourhood's power to this power: 0.5 would whiten the
# portrait, 1 would be the matched filter if the portrait were all there is. Round 1 measured 0.75
# best on the raw picture; on the flattened one (below) 0.5 was 0.3-0.7 z better after VP8 and
# H.264 at 300 kbit/s on the astronaut, the caricature and a drawn cartoon.
ENVELOPE_BINS = 5
WHITEN_POWER = 0.5
# Flattening before the fold: the mark is a few grey levels everywhere, the portrait's edges are
# tens. Each pixel of the high-passed picture (less a Gaussian blur of FLAT_SIGMA_PX, which keeps
# 70 % of the ring's lowest frequency) is divided by the RMS over FLAT_WINDOW_PX around it (plus
# FLAT_FLOOR grey levels, so that a blank area's rounding noise is not blown up): a weighted fold in
# which every area speaks with the same voice. On a flat cartoon after VP8 at 300 kbit/s this
# lifted the sync z from 4.5-9 to 6-13 (the edges had dominated the fold's noise); it also made
# the whitening's exponent matter less (0.5 and 0.75 within 0.5 z of each other).
FLAT_SIGMA_PX = 8.0
FLAT_WINDOW_PX = 17
FLAT_FLOOR = 1.0
# Round 3: the smooth part removed is a bilateral filter's (within FLAT_SIGMA_PX, not across
# steps of more than about FLAT_EDGE_GREY grey levels), not a Gaussian blur's. A flat cartoon
# after VP8 at 300 kbit/s keeps a mark of a few tenths of a grey level on its flat areas, and the
# hard edges a Gaussian high-pass leaves in the detail, even flattened, were the fold's noise:
# folding the difference between the decoded marked and unmarked cartoon gave z 10-14, the
# decoded marked cartoon itself 4-6. A bilateral filter took the four tuning cartoons from 3 to 6
# of 16 VP8 300k windows with the round 2 mark (at 8 grey levels), from 7 to 14 with the round 3
# floor (embed.AMPLITUDE_RANGE; at 4, the one kept); textured portraits lose little (the astronaut's
# first VP8 window, z 9.4 -> 7.2 in one run; VP8 moves from run to run).
FLAT_EDGE_GREY = 4.0
# Around each scale candidate, these relative corrections are also tried: the fold over 4 tiles
# stays coherent within about 0.3 % of the true scale at the ring's highest frequency.
SCALE_REFINE = (0.996, 1.0, 1.004)
HYPOTHESES = CANDIDATES * len(SCALE_REFINE) * TILE_PX * TILE_PX
# Rotation: a window not found upright is tried once more, turned level by the angle the tiling's
# autocorrelation shows (engine.watermark.scale.rotation_deg), when that angle is at least
# ROTATION_MIN_DEG (the fold stays coherent to about 0.25 degrees: measured found at 0.25, lost at
# 0.5). The false-positive budget is split: UPRIGHT_SHARE of DETECT_FPR for the upright
# hypotheses, the rest for the rotated ones, which count as if every distinguishable angle in the
# range had been tried (ROTATED_ANGLES cells of 0.25 degrees: the angle is chosen from the picture
# itself). Either family's bound is its hypotheses * Q(z) / its share, and a window's bound is the
# family it was found in: P(either family fires on an unmarked window) <= DETECT_FPR. The upright
# threshold moves by 0.02 z (6.90, 6.06 with a valid CRC); a rotated window needs 7.64 (6.89).
ROTATION_MIN_DEG = 0.15
UPRIGHT_SHARE = 0.9
ROTATED_ANGLES = math.ceil(2 * ROTATION_RANGE_DEG / 0.25)


@dataclass(frozen=True)
class Detection:
    present: bool
    payload: WatermarkPayload | None  # None when absent or when the CRC failed
    z_score: float  # sync correlation peak, in standard deviations
    false_positive_rate: float  # bound on P(a window without the mark scores this high)
    scale: tuple[float, float]  # (y, x) picture px per original px at the best peak
    rotation_deg: float = 0.0  # the picture was turned by this (OpenCV's sense) to read the mark

    @property
    def confidence(self) -> float:
        return 1.0 - self.false_positive_rate


@cache
def _pattern_spectra() -> NDArray[np.complex128]:
    """(PATTERNS, TILE_PX, TILE_PX // 2 + 1) conjugate spectra, zero outside the ring."""
    spectra = np.fft.rfft2(patterns().astype(np.float64))
    return np.asarray(np.conj(np.where(band_mask(), spectra, 0.0)), np.complex128)


def to_luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    if rgb.ndim == 2:
        return rgb.astype(np.float32)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return rgb[..., :3].astype(np.float32) @ weights


def detect_luma(luma: NDArray[np.float32]) -> Detection:
    """One (H, W) luma picture (a window's average) -> the detection."""
    height, width = luma.shape
    if min(height, width) < MIN_SIDE_PX:
        raise ValueError(f"a {width}x{height} picture is too small to carry the mark")
    acf = autocorrelation(luma)
    upright = _detect_at(luma, 0.0, HYPOTHESES / UPRIGHT_SHARE, acf)
    if upright.present:
        return upright
    angle = rotation_deg(luma, acf)
    if abs(angle) < ROTATION_MIN_DEG:
        return upright
    center = (width / 2.0, height / 2.0)
    level = cv2.warpAffine(
        luma,
        cv2.getRotationMatrix2D(center, angle, 1.0),
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(float(luma.mean()),),
    )
    rotated = _detect_at(
        np.asarray(level, np.float32), angle, HYPOTHESES * ROTATED_ANGLES / (1.0 - UPRIGHT_SHARE)
    )
    return rotated if rotated.false_positive_rate < upright.false_positive_rate else upright


def _detect_at(
    luma: NDArray[np.float32],
    angle_deg: float,
    hypotheses: float,
    acf: NDArray[np.float32] | None = None,
) -> Detection:
    """The best sync peak over the scale candidates of a (level) picture; its bound counts
    `hypotheses` tries (the family's, divided by its share of the false-positive budget)."""
    height, width = luma.shape
    best: tuple[float, tuple[float, float], NDArray[np.complex128]] | None = None
    flattened: dict[tuple[float, int], NDArray[np.float32]] = {}
    for scale_y, scale_x in scale_candidates(luma, acf):
        # Flattened once per candidate, at the picture's own scale (the refinements are 0.4 %
        # apart): the blur and window shrink with the picture.
        shrink = math.sqrt(scale_y * scale_x)
        key = (round(FLAT_SIGMA_PX * shrink, 1), 2 * round(FLAT_WINDOW_PX * shrink / 2) + 1)
        if key not in flattened:
            flattened[key] = flatten(luma, key[0], key[1], FLAT_FLOOR, FLAT_EDGE_GREY)
        for refine in SCALE_REFINE:
            scale = (scale_y * refine, scale_x * refine)
            size = (round(width / scale[1]), round(height / scale[0]))
            if min(size) < MIN_SIDE_PX:
                continue
            resized = cv2.resize(flattened[key], size, interpolation=cv2.INTER_LINEAR)
            spectrum = _whitened_fold(np.asarray(resized, np.float32))
            z = float(_z_scores(spectrum, 0).max())
            if best is None or z > best[0]:
                best = (z, scale, spectrum)
    if best is None:
        return Detection(False, None, 0.0, 1.0, (1.0, 1.0), angle_deg)
    z, scale, spectrum = best
    sync_fpr = min(1.0, hypotheses * _normal_tail(z))
    payload = _read_payload(spectrum) if sync_fpr <= READ_BELOW_FPR else None
    # Without a mark the symbols read are noise, and noise passes the CRC once in 2**CRC_BITS.
    fpr = sync_fpr * 2.0**-CRC_BITS if payload is not None else sync_fpr
    present = fpr <= DETECT_FPR
    return Detection(present, payload if present else None, z, fpr, scale, angle_deg)


def detect_frames(frames: list[NDArray[np.uint8]]) -> Detection:
    """A window of (H, W, 3) RGB or (H, W) grey frames -> the detection of their average."""
    height, width = frames[0].shape[:2]
    total = np.zeros((height, width), np.float32)
    for frame in frames:
        luma = to_luma(frame)
        if luma.shape != total.shape:  # a recording whose resolution changed mid-window
            luma = np.asarray(cv2.resize(luma, (width, height)), np.float32)
        total += luma
    return detect_luma(total / len(frames))


def _whitened_fold(picture: NDArray[np.float32]) -> NDArray[np.complex128]:
    """(H, W) flattened picture at original scale -> its tile fold's spectrum, whitened."""
    height, width = picture.shape
    rows, cols = -(-height // TILE_PX), -(-width // TILE_PX)
    padded = np.zeros((rows * TILE_PX, cols * TILE_PX), np.float32)
    padded[:height, :width] = picture - picture.mean()
    fold = padded.reshape(rows, TILE_PX, cols, TILE_PX).sum(axis=(0, 2))
    spectrum = np.fft.rfft2(fold)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    envelope = cv2.blur(power, (ENVELOPE_BINS, ENVELOPE_BINS), borderType=cv2.BORDER_REFLECT)
    weight = np.maximum(envelope, 1e-9) ** -WHITEN_POWER
    return np.asarray(np.where(band_mask(), spectrum * weight, 0.0), np.complex128)


def _z_scores(spectrum: NDArray[np.complex128], pattern: int) -> NDArray[np.float64]:
    correlation = np.fft.irfft2(spectrum * _pattern_spectra()[pattern], s=(TILE_PX, TILE_PX))
    return (correlation - correlation.mean()) / max(float(correlation.std()), 1e-12)  # type: ignore[no-any-return]


def _read_payload(spectrum: NDArray[np.complex128]) -> WatermarkPayload | None:
    sync = _z_scores(spectrum, 0)
    origin_y, origin_x = np.unravel_index(int(sync.argmax()), sync.shape)
    steps = np.arange(SHIFTS_PER_AXIS) * SHIFT_STEP_PX
    rows = (origin_y + steps) % TILE_PX
    cols = (origin_x + steps) % TILE_PX
    symbols = []
    for k in range(1, SYMBOLS + 1):
        grid = _z_scores(spectrum, k)[np.ix_(rows, cols)]  # (32, 32)
        symbols.append(int(grid.argmax()))
    return WatermarkPayload.from_symbols(tuple(symbols))


def _normal_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))
