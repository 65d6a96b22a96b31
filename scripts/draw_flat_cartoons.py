"""Draw flat cartoon portraits for the watermark's held-out evaluation (issue 16): flat fills, hard
outlines, plain backgrounds, no texture: the case where a texture-shaped mark is faintest and a
codec at 300 kbit/s keeps least. Made here, so no licence question; each seed varies the skin,
hair, background, face shape and features.

    python scripts/draw_flat_cartoons.py 0 1 2 3 4 5    # -> out/portraits/flat_cartoon_SEED.png
"""

import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "out" / "portraits"
SKINS = [(255, 224, 196), (241, 194, 160), (198, 140, 100), (140, 94, 66), (255, 236, 220)]
HAIRS = [(40, 30, 25), (120, 70, 30), (230, 200, 120), (160, 40, 30), (60, 60, 70), (90, 50, 130)]
BACKS = [(200, 225, 245), (245, 240, 225), (210, 240, 210), (80, 90, 110), (250, 250, 250)]


def draw(seed: int) -> Image.Image:
    rng = random.Random(seed)
    size = 768
    back = rng.choice(BACKS)
    skin, hair = rng.choice(SKINS), rng.choice(HAIRS)
    ink = (30, 25, 25)
    line = rng.choice((3, 4, 6))
    im = Image.new("RGB", (size, size), back)
    d = ImageDraw.Draw(im)
    cx = size // 2 + rng.randint(-20, 20)
    half_w, top, chin = rng.randint(150, 190), rng.randint(150, 200), rng.randint(560, 620)
    shirt = tuple(rng.randint(40, 220) for _ in range(3))
    d.polygon(
        [(cx - 280, size), (cx - 200, 660), (cx + 200, 660), (cx + 280, size)],
        fill=shirt,
        outline=ink,
        width=line,
    )
    d.rectangle([cx - 70, chin - 60, cx + 70, 680], fill=skin, outline=ink, width=line)
    if rng.random() < 0.6:  # long hair behind the head
        d.ellipse(
            [cx - half_w - 40, top - 40, cx + half_w + 40, chin - 20],
            fill=hair,
            outline=ink,
            width=line,
        )
    d.ellipse([cx - half_w, top, cx + half_w, chin], fill=skin, outline=ink, width=line)
    for side in (-1, 1):  # ears
        ex = cx + side * half_w
        d.ellipse([ex - 22, 370, ex + 22, 440], fill=skin, outline=ink, width=line)
    d.ellipse([cx - half_w, top, cx + half_w, chin], fill=skin)
    d.arc([cx - half_w, top, cx + half_w, chin], 0, 360, fill=ink, width=line)
    d.chord(
        [cx - half_w - 6, top - 20, cx + half_w + 6, top + 200],
        180,
        360,
        fill=hair,
        outline=ink,
        width=line,
    )  # fringe
    eye_y, gap = rng.randint(370, 400), rng.randint(60, 80)
    eye_r = rng.randint(14, 30)
    iris = rng.choice([(60, 90, 150), (90, 60, 40), (60, 120, 80), (30, 30, 30)])
    for side in (-1, 1):
        ex = cx + side * gap
        d.ellipse(
            [ex - eye_r - 8, eye_y - eye_r, ex + eye_r + 8, eye_y + eye_r],
            fill=(255, 255, 255),
            outline=ink,
            width=max(2, line - 1),
        )
        d.ellipse(
            [ex - eye_r // 2 - 4, eye_y - eye_r + 3, ex + eye_r // 2 + 4, eye_y + eye_r - 3],
            fill=iris,
        )
        d.ellipse([ex - 5, eye_y - 10, ex + 3, eye_y - 2], fill=(255, 255, 255))
        d.line(
            [(ex - 30, eye_y - eye_r - 22), (ex + 30, eye_y - eye_r - 26 + side * 3)],
            fill=hair,
            width=line + 3,
        )  # brows
    d.line([(cx, eye_y + 30), (cx - 10, eye_y + 80), (cx + 6, eye_y + 84)], fill=ink, width=3)
    mouth_y, mouth_w = rng.randint(510, 530), rng.randint(30, 60)
    if rng.random() < 0.5:
        d.chord(
            [cx - mouth_w, mouth_y - 18, cx + mouth_w, mouth_y + 22],
            0,
            180,
            fill=(150, 60, 70),
            outline=ink,
            width=3,
        )
    else:
        d.arc([cx - mouth_w, mouth_y - 30, cx + mouth_w, mouth_y + 10], 20, 160, fill=ink, width=4)
    if rng.random() < 0.5:  # blush
        for side in (-1, 1):
            bx = cx + side * (gap + 30)
            d.ellipse([bx - 26, eye_y + 60, bx + 26, eye_y + 80], fill=(250, 170, 170))
    return im


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for arg in sys.argv[1:] or ["0"]:
        path = OUT / f"flat_cartoon_{int(arg)}.png"
        draw(int(arg)).save(path)
        print(f"wrote {path}")
