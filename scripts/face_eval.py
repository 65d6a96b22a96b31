"""Local evaluation of the face (issue 12): still checks, the mouth interior over speech, and a
contact sheet per portrait, into out/.

    PYTHONPATH=$PWD python scripts/face_eval.py TAG [PORTRAIT ...]

Portraits are looked up in ../shared/data/portraits, then out/portraits (local ones you add).
For a before/after comparison run it once with PYTHONPATH pointing at an export of the old
code (git archive) and once at this tree: tests/face_metrics.py always comes from this tree.
Per portrait it prints each eye's aspect ratio at eyeBlink*=1 over open, the iris shift in
inter-ocular distances at eyeLookX/Y=+-1, the re-detected inner-lip gap at jawOpen=1/0, and the
teeth and dark shares inside the lips over the more open half of the open-mouth frames of
../shared/data/speech/jfk.flac rendered with the shipped motion model (seed 0, quality).
Sheet rows: own/blink/look left/look right/jaw 1/jaw 0; the four most open speech frames, a
turned head blinking, a nod; eye crops; mouth crops.
"""

# ruff: noqa: E402  (one compute thread and the metrics module are set up before the engine imports)

import json
import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from eval_common import OUT, ROOT, face_metrics, portrait

fm = face_metrics()
from PIL import Image

from engine.avatar.landmarks import FaceModels
from engine.avatar.prepare import prepare_avatar
from engine.motion.retarget import retarget
from engine.render.renderer import AvatarRenderer
from models import face_topology as ft
from models import motion_space as ms

eye_ratio, mouth_opening, iris_shift_iod, open_mouth_interior = (
    fm.eye_ratio,
    fm.mouth_opening,
    fm.iris_shift_iod,
    fm.open_mouth_interior,
)

OUT.mkdir(exist_ok=True)
TAG = sys.argv[1]
NAMES = sys.argv[2:] or ["astronaut.png", "mona_lisa.jpg", "mona_lisa_197px.jpg", "caricature.png"]
models = FaceModels()


def speech_motion():
    cache = OUT / "speech_motion.npy"
    if cache.exists():
        return np.load(cache)
    from engine.motion.clip import generate_motion
    from engine.tools.motion_eval import load_audio_16k

    audio = load_audio_16k(ROOT.parent / "shared" / "data" / "speech" / "jfk.flac")
    m = generate_motion(audio, seed=0, profile="quality")
    np.save(cache, m)
    return m


def lm(frame):
    f = models.face_landmarks(frame)
    return f[0] if f else None


def crop(frame, centre, half, scale=3):
    cx, cy = int(centre[0]), int(centre[1])
    x0, y0 = max(cx - half[0], 0), max(cy - half[1], 0)
    c = frame[y0 : y0 + 2 * half[1], x0 : x0 + 2 * half[0]]
    return np.asarray(
        Image.fromarray(c).resize((c.shape[1] * scale, c.shape[0] * scale), Image.NEAREST)
    )


results = {}
for name in NAMES:
    avatar = prepare_avatar(portrait(name), models=models)
    r = AvatarRenderer(avatar)
    own = avatar.source_motion

    def render(r=r, own=own, **f):  # bound per portrait
        return r.render(ms.with_fields(own, **f))[0]

    res = {}
    base = render(eyeBlinkLeft=0.0, eyeBlinkRight=0.0, eyeLookX=0.0, eyeLookY=0.0)
    base_lm = lm(base)
    if base_lm is None:
        print(TAG, name, "no face re-detected on the unchanged render; skipped", flush=True)
        continue
    blink = render(eyeBlinkLeft=1.0, eyeBlinkRight=1.0)
    blink_lm = lm(blink)
    for side in ("Left", "Right"):
        res[f"blink_{side}"] = (
            round(eye_ratio(blink_lm, side) / eye_ratio(base_lm, side), 3)
            if blink_lm is not None
            else "face lost"
        )
    gaze = {}
    for key, f in (
        ("x+", dict(eyeLookX=1.0, eyeLookY=0.0)),
        ("x-", dict(eyeLookX=-1.0, eyeLookY=0.0)),
        ("y+", dict(eyeLookX=0.0, eyeLookY=1.0)),
        ("y-", dict(eyeLookX=0.0, eyeLookY=-1.0)),
    ):
        fr = render(eyeBlinkLeft=0.0, eyeBlinkRight=0.0, **f)
        gaze[key] = fr
        found = lm(fr)
        if found is None:
            res[f"iris_{key}"] = "face lost"
            continue
        s = iris_shift_iod(found, base_lm)
        res[f"iris_{key}"] = round(float(s[0] if key[0] == "x" else s[1]), 4)
    jaw1, jaw0 = render(jawOpen=1.0), render(jawOpen=0.0, mouthClose=0.0)
    j1, j0 = lm(jaw1), lm(jaw0)
    res["open_jaw1"] = round(mouth_opening(j1), 3) if j1 is not None else "face lost"
    res["open_jaw0"] = round(mouth_opening(j0), 3) if j0 is not None else "face lost"
    motion = retarget(speech_motion(), own)
    frames = []
    for i in range(0, len(motion), 8):
        frames.extend(r.render(motion[i : i + 8]))
    lms = [lm(f) for f in frames]
    keep = [i for i, found in enumerate(lms) if found is not None]
    teeth, dark, n = open_mouth_interior([frames[i] for i in keep], [lms[i] for i in keep])
    res.update(teeth=round(teeth, 3), dark=round(dark, 3), n_open=n)
    openings = np.array([mouth_opening(lms[i]) for i in keep])
    top = [keep[j] for j in np.argsort(-openings)[:4]]
    results[name] = res
    print(TAG, name, json.dumps(res), flush=True)
    # contact sheet
    mouth_c = base_lm[[ft.MOUTH_CORNER_LEFT, ft.MOUTH_CORNER_RIGHT], :2].mean(0)
    eyes_c = base_lm[list(ft.EYE_LEFT_CORNERS) + list(ft.EYE_RIGHT_CORNERS), :2].mean(0)
    iod = np.linalg.norm(
        base_lm[list(ft.EYE_LEFT_CORNERS), :2].mean(0)
        - base_lm[list(ft.EYE_RIGHT_CORNERS), :2].mean(0)
    )
    eh = (int(iod * 0.9), int(iod * 0.3))
    mh = (int(iod * 0.6), int(iod * 0.4))
    row1 = [base, blink, gaze["x-"], gaze["x+"], jaw1, jaw0]
    row2 = [frames[i] for i in top] + [
        render(yaw=own[0] + 0.35, eyeBlinkLeft=1.0, eyeBlinkRight=1.0),
        render(pitch=own[1] + 0.25, tx=own[3] + 0.05),
    ]

    def tile(imgs, w):
        ims = [
            Image.fromarray(np.ascontiguousarray(i)).resize((w, int(i.shape[0] * w / i.shape[1])))
            for i in imgs
        ]
        h = max(i.height for i in ims)
        out = Image.new("RGB", (w * len(ims), h))
        for k, i in enumerate(ims):
            out.paste(i, (k * w, 0))
        return out

    rows = [
        tile(row1, 384),
        tile(row2, 384),
        tile(
            [
                crop(f, eyes_c, eh)
                for f in (base, blink, gaze["x-"], gaze["x+"], gaze["y-"], gaze["y+"])
            ],
            384,
        ),
        tile([crop(f, mouth_c, mh) for f in [jaw1, jaw0] + [frames[i] for i in top]], 384),
    ]
    sheet = Image.new("RGB", (384 * 6, sum(x.height for x in rows)))
    y = 0
    for x in rows:
        sheet.paste(x, (0, y))
        y += x.height
    sheet.save(OUT / f"sheet_{TAG}_{Path(name).stem}.png")
json.dump(results, open(OUT / f"results_{TAG}.json", "w"), indent=1)
