"""How much the picture was rescaled since embedding, read from the mark's own tiling.

The mark repeats every TILE_PX original pixels, so the whitened picture's autocorrelation has peaks
at multiples of the tile period as the picture shows it. Read along each axis at the first
HARMONICS multiples of every candidate period, the best sum gives the horizontal and vertical scale
separately (a screen recording may also change the aspect). A codec's block grid puts peaks of its
own at multiples of 8 px, so the detector is handed CANDIDATES: two priors (not rescaled; rescaled
whole from 512x512: a codec's first second at a low rate can blur the comb), the best few isotropic
periods (local maxima of both axes' sums) and the best anisotropic pair, and keeps the one whose
sync correlation peaks highest. This costs one FFT of twice the picture's size, instead of a shift
search at each of a hundred scales.

Rotation (a screen recording of a window not quite level, a phone filming a screen) is read from
the same autocorrelation: the tiling's peaks lie along two perpendicular rays, and rotation_deg
samples rays ROTATION_STEP_DEG apart within ROTATION_RANGE_DEG and keeps the angle whose two rays'
combs score highest (measured: within 0.05 degrees of the true angle on a marked window rotated by
0.5-3 degrees and scaled to 0.8).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from engine.watermark.pattern import BAND_CYCLES, TILE_PX

SCALE_RANGE = (0.4, 1.25)  # picture px per original px
PERIOD_STEP_PX = 0.05
HARMONICS = 3
SMOOTH_BINS = 15  # spectral envelope estimate: a box average over this many bins
ISOTROPIC_CANDIDATES = 4
CANDIDATES = 2 + ISOTROPIC_CANDIDATES + 1  # priors, isotropic comb peaks, best anisotropic pair
ORIGINAL_PX = 512
PEAK_SEPARATION = 0.02  # relative: closer periods are one candidate
# The autocorrelation is taken of the picture flattened as the detector's fold is (edges would
# otherwise own it), at a finer blur: the picture may be shrunk to SCALE_RANGE[0]. Without it, a
# marked window shrunk to 0.6-0.85 or enlarged 1.15 and sent through H.264 gave no candidate
# within 0.4 % of its scale (8 of 8 cases, astronaut and caricature); with it, 7 of 8 did.
FLAT_SIGMA_PX = 4.0
FLAT_WINDOW_PX = 17
FLAT_FLOOR = 1.0  # grey levels
ROTATION_RANGE_DEG = 3.2  # searched both ways: screen recordings are rarely off by more
ROTATION_STEP_DEG = 0.05


def scale_candidates(
    picture: NDArray[np.float32], acf: NDArray[np.float32] | None = None
) -> list[tuple[float, float]]:
    """(scale_y, scale_x) candidates for a (H, W) luma picture, picture px per original px
    (acf: the picture's autocorrelation() when the caller has it already)."""
    acf = autocorrelation(picture) if acf is None else acf
    height, width = picture.shape
    periods = np.arange(TILE_PX * SCALE_RANGE[0], TILE_PX * SCALE_RANGE[1], PERIOD_STEP_PX)
    score_y = _comb_scores(acf[:, 0], height, periods)
    score_x = _comb_scores(acf[0, :], width, periods)
    candidates = [(float(p), float(p)) for p in _peaks(score_y + score_x, periods)]
    candidates.append((float(periods[score_y.argmax()]), float(periods[score_x.argmax()])))
    from_comb = [(period_y / TILE_PX, period_x / TILE_PX) for period_y, period_x in candidates]
    return [*prior_scales(height, width), *from_comb]


def rotation_deg(picture: NDArray[np.float32], acf: NDArray[np.float32] | None = None) -> float:
    """The tiling's rotation in the picture, degrees: rotating the picture by it (OpenCV's sense:
    counter-clockwise as shown) brings the tiling level."""
    acf = autocorrelation(picture) if acf is None else acf
    acf_height, acf_width = acf.shape
    length = min(picture.shape)
    lags = np.arange(int(0.75 * length) + 2, dtype=np.float32)
    periods = np.arange(TILE_PX * SCALE_RANGE[0], TILE_PX * SCALE_RANGE[1], PERIOD_STEP_PX)
    angles = np.arange(-ROTATION_RANGE_DEG, ROTATION_RANGE_DEG + 1e-9, ROTATION_STEP_DEG)
    radians = np.deg2rad(angles)[:, None].astype(np.float32)
    scores = np.zeros(len(angles))
    for step_x, step_y in ((np.cos(radians), np.sin(radians)), (-np.sin(radians), np.cos(radians))):
        map_x = np.asarray((lags * step_x) % acf_width, np.float32)
        map_y = np.asarray((lags * step_y) % acf_height, np.float32)
        rays = cv2.remap(acf, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        scores += [_comb_scores(ray, length, periods).max() for ray in rays]
    return float(angles[scores.argmax()])


def prior_scales(height: int, width: int) -> list[tuple[float, float]]:
    """Always tried: not rescaled (cropped at most), and rescaled whole from ORIGINAL_PX."""
    return [(1.0, 1.0), (height / ORIGINAL_PX, width / ORIGINAL_PX)]


def flatten(
    picture: NDArray[np.float32],
    sigma_px: float,
    window_px: int,
    floor: float,
    edge_grey: float | None = None,
) -> NDArray[np.float32]:
    """The picture's detail (less a Gaussian blur of sigma_px) in units of its RMS over window_px
    around each pixel (plus floor grey levels, so that a blank area's noise is not blown up).
    With edge_grey, the blur is a bilateral filter that does not average across steps of more than
    about that many grey levels: a hard edge then stays out of the detail (and a mark far fainter
    than the step stays in)."""
    if edge_grey is None:
        smooth = cv2.GaussianBlur(picture, (0, 0), sigma_px)
    else:
        diameter = 2 * max(1, round(sigma_px / 2)) + 1
        smooth = cv2.bilateralFilter(picture, diameter, edge_grey, sigma_px)
    detail = picture - smooth
    power = cv2.blur(detail * detail, (window_px, window_px))
    return np.asarray(detail / np.sqrt(power + floor**2), np.float32)


def autocorrelation(picture: NDArray[np.float32]) -> NDArray[np.float32]:
    """(2H, 2W) the whitened autocorrelation of the flattened picture (zero-padded: no wrap)."""
    picture = flatten(picture, FLAT_SIGMA_PX, FLAT_WINDOW_PX, FLAT_FLOOR)
    height, width = picture.shape
    padded = np.zeros((2 * height, 2 * width), np.float32)
    padded[:height, :width] = picture - picture.mean()
    spectrum = np.fft.rfft2(padded)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    envelope = cv2.blur(power, (SMOOTH_BINS, SMOOTH_BINS), borderType=cv2.BORDER_REFLECT)
    fy = np.fft.fftfreq(2 * height)[:, None]
    fx = np.fft.rfftfreq(2 * width)[None, :]
    low_cut = BAND_CYCLES[0] / (TILE_PX * SCALE_RANGE[1])  # cycles per picture px
    whitened = np.where(np.hypot(fy, fx) >= low_cut, power / np.maximum(envelope, 1e-6), 0.0)
    return np.fft.irfft2(whitened, s=padded.shape).astype(np.float32)


def _comb_scores(
    profile: NDArray[np.float32], length: int, periods: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per candidate tile period (px): the autocorrelation summed at its first harmonics."""
    lags = np.arange(len(profile), dtype=np.float64)
    score = np.zeros_like(periods)
    for harmonic in range(1, HARMONICS + 1):
        positions = periods * harmonic
        usable = positions < 0.75 * length  # long lags overlap too little of the picture
        score += np.where(usable, np.interp(positions, lags, profile), 0.0)
    return score


def _peaks(score: NDArray[np.float64], periods: NDArray[np.float64]) -> list[float]:
    """The periods of the ISOTROPIC_CANDIDATES highest scores, PEAK_SEPARATION apart."""
    chosen: list[float] = []
    for index in np.argsort(score)[::-1]:
        period = float(periods[index])
        if all(abs(period / other - 1.0) > PEAK_SEPARATION for other in chosen):
            chosen.append(period)
            if len(chosen) == ISOTROPIC_CANDIDATES:
                break
    return chosen
