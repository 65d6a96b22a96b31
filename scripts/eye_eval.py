"""Still checks of the eyes only (issue 12), quicker than scripts/face_eval.py: per portrait,
each eye's re-detected aspect ratio on a blink over open (frontal and with the head turned
+-0.35 rad, both eyes blinking), and the iris shift in inter-ocular distances at eyeLookX/Y=+-1.
Writes an eye-crop contact sheet per portrait to out/eyes_TAG_NAME.png.

    PYTHONPATH=$PWD python scripts/eye_eval.py TAG [PORTRAIT ...]

Portraits come from ../shared/data/portraits, then out/portraits. Sheet rows: the eyes at
blink 0 / 0.5 / 1 (both), left only, right only; gaze x-, x+, y- (up), y+ (down); turned
+-0.35 open and blinking. For a before/after comparison run it with PYTHONPATH at an export of
the old code (git archive) and at this tree: tests/face_metrics.py comes from this tree.
"""

# ruff: noqa: E402  (one compute thread and the metrics module are set up before the engine imports)

import json
import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from eval_common import OUT, face_metrics, portrait

fm = face_metrics()
from PIL import Image, ImageDraw

from engine.avatar.landmarks import FaceModels
from engine.avatar.prepare import prepare_avatar
from engine.render.renderer import AvatarRenderer
from models import face_topology as ft
from models import motion_space as ms

TAG = sys.argv[1]
NAMES = sys.argv[2:] or [
    "astronaut.png",
    "mona_lisa.jpg",
    "mona_lisa_197px.jpg",
    "caricature.png",
    "anime_drawn.png",
    "astronaut_turned.png",
    "turned.png",
]
models = FaceModels()


def lm(frame):
    f = models.face_landmarks(frame)
    return f[0] if f else None


def ratio(closed, opened, side):
    if closed is None or opened is None:
        return None
    return round(fm.eye_ratio(closed, side) / fm.eye_ratio(opened, side), 3)


def eye_crop(frame, landmarks, width=640):
    """Both eyes, scaled to `width` px."""
    pts = landmarks[list(ft.EYE_LEFT_CORNERS) + list(ft.EYE_RIGHT_CORNERS), :2]
    iod = fm.inter_ocular_px(landmarks)
    (x0, y0), (x1, y1) = pts.min(0) - [0.3 * iod, 0.35 * iod], pts.max(0) + [0.3 * iod, 0.3 * iod]
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    c = Image.fromarray(np.ascontiguousarray(frame[y0 : int(y1), x0 : int(x1)]))
    return c.resize((width, max(int(c.height * width / c.width), 1)), Image.LANCZOS)


def sheet(rows, path):
    w = max(sum(i.width for i in r) for r in rows)
    h = sum(max(i.height for i in r) + 14 for r in rows)
    out = Image.new("RGB", (w, h), (40, 40, 40))
    draw = ImageDraw.Draw(out)
    y = 0
    for r in rows:
        x = 0
        for im in r:
            out.paste(im, (x, y + 14))
            draw.text((x + 2, y + 1), im.info.get("label", ""), fill=(255, 255, 0))
            x += im.width
        y += max(i.height for i in r) + 14
    out.save(path)


results = {}
for name in NAMES:
    path = portrait(name)
    if not path.exists():
        print(TAG, name, "missing")
        continue
    avatar = prepare_avatar(path, models=models)
    renderer = AvatarRenderer(avatar)
    own = avatar.source_motion

    def render(renderer=renderer, own=own, **fields):
        return renderer.render(ms.with_fields(own, **fields))[0]

    still = {"eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0, "eyeLookX": 0.0, "eyeLookY": 0.0}
    frames = {"open": render(**still)}
    for key, fields in (
        ("blink.5", dict(eyeBlinkLeft=0.5, eyeBlinkRight=0.5)),
        ("blink1", dict(eyeBlinkLeft=1.0, eyeBlinkRight=1.0)),
        ("left1", dict(eyeBlinkLeft=1.0)),
        ("right1", dict(eyeBlinkRight=1.0)),
        ("x-", dict(eyeLookX=-1.0)),
        ("x+", dict(eyeLookX=1.0)),
        ("y-", dict(eyeLookY=-1.0)),
        ("y+", dict(eyeLookY=1.0)),
    ):
        frames[key] = render(**{**still, **fields})
    for turn in (-0.35, 0.35):
        yaw = float(own[ms.INDEX["yaw"]]) + turn
        frames[f"yaw{turn:+}"] = render(**still, yaw=yaw)
        frames[f"yaw{turn:+}b"] = render(
            **{**still, "eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}, yaw=yaw
        )
    marks = {k: lm(f) for k, f in frames.items()}
    base = marks["open"]
    res = {}
    for side in ("Left", "Right"):
        res[f"blink_{side}"] = ratio(marks["blink1"], base, side)
        res[f"only_{side}"] = ratio(marks[f"{side.lower()}1"], base, side)
        for turn in ("-0.35", "+0.35"):
            res[f"yaw{turn}_{side}"] = ratio(marks[f"yaw{turn}b"], marks[f"yaw{turn}"], side)
    for key in ("x-", "x+", "y-", "y+"):
        if marks[key] is not None:
            s = fm.iris_shift_iod(marks[key], base)
            res[f"iris_{key}"] = round(float(s[0] if key[0] == "x" else s[1]), 4)
    results[name] = res
    print(TAG, name, json.dumps(res), flush=True)
    rows = []
    for keys in (
        ("open", "blink.5", "blink1", "left1", "right1"),
        ("x-", "x+", "y-", "y+"),
        ("yaw-0.35", "yaw-0.35b", "yaw+0.35", "yaw+0.35b"),
    ):
        row = []
        for k in keys:
            ref = marks[k.rstrip("b")] if k.startswith("yaw") else base
            ref = base if ref is None else ref
            im = eye_crop(frames[k], ref, 480)
            im.info["label"] = f"{TAG} {Path(name).stem} {k}"
            row.append(im)
        rows.append(row)
    sheet(rows, OUT / f"eyes_{TAG}_{Path(name).stem}.png")
json.dump(results, open(OUT / f"eyes_{TAG}.json", "w"), indent=1)
