"""Portraits drawn in code (issue 12): anime-style with big outlined eyes and highlights, a
clip-art cartoon whose filled dark iris splits the white of each eye in two under a thick lash
line, one with dot eyes, all flat-shaded; and visual-novel anime painted in gradients, its eyes
closed by no line. Made here, so no licence question; test portraits for stylised art whose
eyes the face mesh does not fit (models/drawn_eye.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def draw_anime_portrait(eyes: str = "outlined") -> Image.Image:
    """The 768 x 768 RGB portrait; `eyes` "outlined" (a white eye closed off by its outline) or
    "dark_iris" (a dark iris as tall as the eye splits its white in two; a thick upper lash line
    and a thin lower one, which do not meet at the corners) or "dots" (each eye a black dot) or
    "shaded" (visual-novel anime: a tall iris in a gradient, its white running into the skin with
    no line below it, under a thick lash line; the skin shaded top to bottom, all softened)."""
    W = 768
    im = Image.new("RGB", (W, W), (196, 222, 240))
    d = ImageDraw.Draw(im)
    K = (40, 28, 30)
    skin = (255, 226, 206)
    hair = (92, 60, 120)
    d.rectangle([300, 560, 468, 700], fill=skin, outline=K, width=5)  # neck
    d.polygon(
        [(120, 768), (200, 650), (568, 650), (648, 768)], fill=(70, 90, 150), outline=K, width=5
    )  # shoulders
    d.ellipse([150, 120, 618, 560], fill=hair, outline=K, width=6)  # back hair
    d.chord([200, 170, 568, 640], 0, 180, fill=skin, outline=K, width=6)  # jaw
    d.rectangle([203, 300, 565, 410], fill=skin)
    d.line([(200, 300), (200, 410)], fill=K, width=6)
    d.line([(568, 300), (568, 410)], fill=K, width=6)
    d.pieslice([180, 130, 590, 420], 180, 360, fill=hair, outline=K, width=6)  # fringe
    for x in (230, 300, 380, 460):
        d.polygon([(x, 250), (x + 60, 250), (x + 30, 330)], fill=hair)
    for cx in (300, 468):
        if eyes == "outlined":  # big, dark upper lash line, tall iris with highlights
            d.ellipse([cx - 52, 350, cx + 52, 440], fill=(255, 255, 255), outline=K, width=4)
            d.ellipse([cx - 30, 352, cx + 30, 438], fill=(70, 110, 170))
            d.ellipse([cx - 16, 375, cx + 16, 420], fill=(25, 30, 60))
            d.ellipse([cx - 20, 362, cx - 6, 378], fill=(255, 255, 255))
            d.arc([cx - 58, 340, cx + 58, 420], 190, 350, fill=K, width=9)  # upper lash line
        elif eyes == "shaded":  # the iris's gradient is painted below, over this flat blue
            d.ellipse([cx - 54, 352, cx + 54, 446], fill=(250, 250, 252))
            d.ellipse([cx - 32, 352, cx + 32, 444], fill=(0, 0, 255))
            d.arc([cx - 60, 340, cx + 60, 420], 190, 350, fill=K, width=10)  # upper lash line
        elif eyes == "dots":  # clip art: each eye a solid black dot
            d.ellipse([cx - 15, 380, cx + 15, 410], fill=(0, 0, 0))
        else:  # clip art: a dark blue iris filling the eye's height, white beside it
            d.ellipse([cx - 56, 362, cx + 56, 432], fill=(255, 255, 255))
            d.ellipse([cx - 30, 364, cx + 30, 430], fill=(20, 20, 140))
            d.ellipse([cx - 17, 380, cx + 17, 414], fill=(0, 0, 0))
            d.ellipse([cx - 18, 370, cx - 2, 386], fill=(240, 240, 245))
            d.arc([cx - 62, 356, cx + 62, 440], 195, 345, fill=K, width=11)  # upper lash line
            d.arc([cx - 52, 354, cx + 52, 434], 30, 150, fill=K, width=3)  # lower line
        d.arc([cx - 55, 316, cx + 45, 346], 200, 340, fill=(60, 40, 70), width=6)  # brow
    d.line([(384, 450), (378, 490), (388, 492)], fill=(200, 150, 140), width=3)  # nose
    d.chord(
        [354, 518, 414, 546], 0, 180, fill=(150, 60, 70), outline=K, width=4
    )  # small open mouth
    d.line([(352, 520), (416, 520)], fill=K, width=4)
    d.ellipse([232, 470, 282, 492], fill=(255, 200, 200))
    d.ellipse([486, 470, 536, 492], fill=(255, 200, 200))  # blush
    return _shade(im, skin) if eyes == "shaded" else im


def _shade(im: Image.Image, skin: tuple[int, int, int]) -> Image.Image:
    """The "shaded" portrait's gradients: the skin lit from above (darker by 12 % towards the
    chin), the irises navy at the top to light blue at the bottom with a dark pupil and a
    highlight, and a slight blur over all, as visual-novel art is painted."""
    rgb = np.asarray(im).astype(np.float32)
    ys, xs = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]].astype(np.float32)
    is_skin = (np.abs(rgb - skin).max(-1) < 1).astype(np.float32)
    rgb *= 1.0 - is_skin[..., None] * 0.12 * np.clip((ys - 250.0) / 400.0, 0.0, 1.0)[..., None]
    iris = (rgb[..., 2] == 255) & (rgb[..., 0] == 0)
    t = np.clip((ys - 352.0) / 92.0, 0.0, 1.0)[..., None]
    gradient = (1.0 - t) * np.array([28, 34, 92]) + t * np.array([96, 140, 210])
    rgb = np.where(iris[..., None], gradient, rgb)
    for cx in (300, 468):
        rgb[np.hypot((xs - cx) / 14.0, (ys - 400.0) / 22.0) <= 1.0] = (12, 14, 40)  # pupil
        rgb[np.hypot(xs - cx + 14.0, ys - 372.0) <= 8.0] = (255, 255, 255)  # highlight
    out = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(1.2))
