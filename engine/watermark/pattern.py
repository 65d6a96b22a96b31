"""The mark's patterns: band-limited pseudo-random tiles, one for sync and one per symbol.

Each pattern is a TILE_PX x TILE_PX tile of random noise whose spectrum fills a ring of spatial
frequencies (BAND_CYCLES cycles per tile: periods of 6.4 to 32 px at 512x512). Low enough to
survive VP8/H.264 at 300 kbit/s and a downscale to 256x256, high enough to stay apart from the
portrait's own smooth shading. Measured on flat art (a uniform 1.5 grey-level mark, VP8 as
aiortc runs it, 300 kbit/s, first second): a ring at 3-6 cycles per tile kept about half its
amplitude, 6-10 cycles 15-35 %, 10-16 cycles 5-12 %, 16 and above 1-5 %; H.264 keeps more
(16-24 cycles: 26 %, 60 % in the next second). Lower is not better: the portrait's own power
rises toward low frequencies, and a ring at 3-12 cycles scored lower than this one on every
portrait and codec tried (round 1's 6-28 ring was lost in VP8's first seconds).

The frame carries the tile repeated (4 x 4 at 512x512), so a crop only shifts the tiling
cyclically, which the detector finds by correlation, and a rescale changes its period, which the
detector searches. The mark is

    sum_k roll(pattern_k, shift_k)   k = 0 (sync, shift 0) and 1..SYMBOLS (data)

with shift_k = SHIFT_STEP_PX * divmod(symbol_k, SHIFTS_PER_AXIS): the payload is in where each
data pattern sits relative to the sync pattern, so it is read the same after any crop.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

from engine.watermark.payload import SYMBOL_BITS, SYMBOLS

TILE_PX = 128
SHIFT_STEP_PX = 4  # 2 px after a downscale to 256x256: still resolved by the correlation peak
SHIFTS_PER_AXIS = TILE_PX // SHIFT_STEP_PX  # 32 x 32 = 2 ** SYMBOL_BITS positions
BAND_CYCLES = (4.0, 20.0)  # radius of the spectral ring, in cycles per tile
PATTERN_SEED = 0x61C0DA  # fixed: every Gioconda server embeds and detects the same patterns
PATTERNS = 1 + SYMBOLS
# Presence rests on the sync pattern alone (its peak must clear a threshold set for ~3e5 shift and
# scale hypotheses: z 6.05 with a valid CRC); each data pattern only has to beat the other 1023
# shifts of itself, which takes a z of about 5. Sync at 1.3x the amplitude of each data pattern
# (30 % of the mark's power) asks for the least total mark to meet both: at 2.0 (round 1) the sync
# cleared its threshold in windows where the payload could not yet be read.
SYNC_WEIGHT = 1.3

assert SHIFTS_PER_AXIS**2 == 1 << SYMBOL_BITS


def band_mask() -> NDArray[np.bool_]:
    """(TILE_PX, TILE_PX // 2 + 1) the rfft2 bins of the ring."""
    fy = np.fft.fftfreq(TILE_PX, 1.0 / TILE_PX)[:, None]
    fx = np.fft.rfftfreq(TILE_PX, 1.0 / TILE_PX)[None, :]
    radius = np.hypot(fy, fx)
    return (radius >= BAND_CYCLES[0]) & (radius <= BAND_CYCLES[1])


@cache
def patterns() -> NDArray[np.float32]:
    """(PATTERNS, TILE_PX, TILE_PX) unit-RMS tiles; pattern 0 is sync."""
    rng = np.random.default_rng(PATTERN_SEED)
    mask = band_mask()
    out = np.empty((PATTERNS, TILE_PX, TILE_PX), np.float32)
    for k in range(PATTERNS):
        phase = rng.uniform(0.0, 2.0 * np.pi, mask.shape)
        spectrum = np.where(mask, np.exp(1j * phase), 0.0)
        tile = np.fft.irfft2(spectrum, s=(TILE_PX, TILE_PX))
        out[k] = tile / tile.std()
    return out


def symbol_shift(symbol: int) -> tuple[int, int]:
    """(dy, dx) in pixels of the original frame."""
    row, col = divmod(symbol, SHIFTS_PER_AXIS)
    return row * SHIFT_STEP_PX, col * SHIFT_STEP_PX


def mark_tile(symbols: tuple[int, ...]) -> NDArray[np.float32]:
    """(TILE_PX, TILE_PX) the sum of the sync pattern and the shifted data patterns, unit RMS."""
    tiles = patterns()
    tile = SYNC_WEIGHT * tiles[0]
    for k, symbol in enumerate(symbols, start=1):
        tile += np.roll(tiles[k], symbol_shift(symbol), axis=(0, 1))
    return tile / tile.std()  # type: ignore[no-any-return]
