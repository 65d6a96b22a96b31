"""The visible "AI-generated" label drawn onto every outgoing video frame.

The label is rendered once with PIL into a small RGBA patch; per frame only that patch is blended
into a copy of the frame's corner (a few hundred microseconds at 512x512).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

MARGIN_PX = 10
PADDING_PX = 6
FONT_SIZE_PX = 16


class LabelPainter:
    def __init__(self, text: str) -> None:
        font = _font()
        left, top, right, bottom = font.getbbox(text)
        width = int(right - left) + 2 * PADDING_PX
        height = int(bottom - top) + 2 * PADDING_PX
        patch = Image.new("RGBA", (width, height), (0, 0, 0, 150))
        ImageDraw.Draw(patch).text(
            (PADDING_PX - left, PADDING_PX - top), text, font=font, fill=(255, 255, 255, 255)
        )
        rgba = np.asarray(patch, np.float32)
        self._alpha = rgba[..., 3:] / 255.0  # (h, w, 1)
        self._premultiplied = rgba[..., :3] * self._alpha  # (h, w, 3)
        self.size = (width, height)

    def paint(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """A copy of the frame with the label in its bottom-left corner."""
        out = rgb.copy()
        width, height = self.size
        y0 = out.shape[0] - MARGIN_PX - height
        region = out[y0 : y0 + height, MARGIN_PX : MARGIN_PX + width].astype(np.float32)
        blended = self._premultiplied + region * (1.0 - self._alpha)
        out[y0 : y0 + height, MARGIN_PX : MARGIN_PX + width] = np.clip(blended + 0.5, 0, 255)
        return out


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, FONT_SIZE_PX)
        except OSError:
            continue
    return ImageFont.load_default(size=FONT_SIZE_PX)
