"""Local evaluation of the mouth interior (issue 12): teeth and dark shares inside the inner lips
over renders of speech, and a contact sheet of mouth crops per portrait, into out/.

    PYTHONPATH=$PWD python scripts/mouth_eval.py TAG [--voices jfk,de,cmn] [PORTRAIT ...]

For before/after run it once with PYTHONPATH at an export of the old code (git archive) and once
at this tree; tests/face_metrics.py always comes from this tree. Voices: jfk is
../shared/data/speech/jfk.flac, any other name a held-out wav in ../motion/out/heldout/. Motion
is the shipped model's (seed 0, quality), cached in out/motion_VOICE.npy. Sheet rows: stills at
jawOpen 0, 0.3, 0.6, 1; then per voice eight speech frames at rising opening quantiles (mid
openings first: where the dark crescent showed). `--video` measures the shared real video instead.
"""

# ruff: noqa: E402  (one compute thread and the metrics module are set up before the engine imports)

import argparse
import json
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from eval_common import OUT, ROOT, face_metrics, portrait

fm = face_metrics()
from PIL import Image

from engine.avatar.landmarks import FaceModels
from engine.motion.retarget import retarget
from models import face_topology as ft
from models import motion_space as ms

SHARED = ROOT.parent / "shared" / "data"
HELDOUT = ROOT.parent / "motion" / "out" / "heldout"
DEFAULT = ["astronaut.png", "mona_lisa.jpg", "mona_lisa_197px.jpg", "caricature.png"]


def speech_motion(voice: str) -> np.ndarray:
    cache = OUT / f"motion_{voice}.npy"
    if cache.exists():
        return np.load(cache)
    from engine.motion.clip import generate_motion
    from engine.tools.motion_eval import load_audio_16k

    path = SHARED / "speech" / "jfk.flac" if voice == "jfk" else HELDOUT / f"{voice}.wav"
    motion = generate_motion(load_audio_16k(path), seed=0, profile="quality")
    np.save(cache, motion)
    return motion


def crop(
    frame: np.ndarray, centre: np.ndarray, half: tuple[int, int], scale: int = 3
) -> Image.Image:
    cx, cy = int(centre[0]), int(centre[1])
    x0, y0 = max(cx - half[0], 0), max(cy - half[1], 0)
    c = frame[y0 : y0 + 2 * half[1], x0 : x0 + 2 * half[0]]
    return Image.fromarray(np.ascontiguousarray(c)).resize(
        (c.shape[1] * scale, c.shape[0] * scale), Image.LANCZOS
    )


def row(images: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)))
    x = 0
    for i in images:
        out.paste(i, (x, 0))
        x += i.width
    return out


def video_reference(models: FaceModels) -> None:
    import av

    frames, lms = [], []
    with av.open(str(SHARED / "video" / "hdtf_katie_hill_000.mp4")) as container:
        for f in container.decode(video=0):
            rgb = f.to_ndarray(format="rgb24")
            found = models.face_landmarks(rgb)
            if found:
                frames.append(rgb)
                lms.append(found[0])
    teeth, dark, n = fm.open_mouth_interior(frames, lms)
    print(
        "video hdtf_katie_hill_000",
        json.dumps(dict(teeth=round(teeth, 3), dark=round(dark, 3), n_open=n)),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tag")
    parser.add_argument("portraits", nargs="*")
    parser.add_argument("--voices", default="jfk,de,cmn")
    parser.add_argument("--step", type=int, default=2, help="render every STEP-th motion frame")
    parser.add_argument("--video", action="store_true")
    args = parser.parse_args()
    models = FaceModels()
    if args.video:
        video_reference(models)
        return
    from engine.avatar.prepare import prepare_avatar
    from engine.render.renderer import AvatarRenderer

    results = {}
    for name in args.portraits or DEFAULT:
        avatar = prepare_avatar(portrait(name), models=models)
        renderer = AvatarRenderer(avatar)
        own = avatar.source_motion
        stills = [
            renderer.render(ms.with_fields(own, jawOpen=j, mouthClose=0.0))[0]
            for j in (0.0, 0.3, 0.6, 1.0)
        ]
        base = models.face_landmarks(stills[0])[0]
        iod = fm.inter_ocular_px(base)
        centre = base[[ft.MOUTH_CORNER_LEFT, ft.MOUTH_CORNER_RIGHT], :2].mean(0) + [0, 0.1 * iod]
        half = (int(0.55 * iod), int(0.35 * iod))
        rows = [row([crop(f, centre, half) for f in stills])]
        res: dict[str, float] = {}
        for voice in args.voices.split(","):
            motion = retarget(speech_motion(voice), own)[:: args.step]
            frames = [
                f for i in range(0, len(motion), 8) for f in renderer.render(motion[i : i + 8])
            ]
            found = [(f, lm[0]) for f in frames if (lm := models.face_landmarks(f))]
            teeth, dark, n = fm.open_mouth_interior([f for f, _ in found], [m for _, m in found])
            res[f"{voice}_teeth"], res[f"{voice}_dark"], res[f"{voice}_n"] = (
                round(teeth, 3),
                round(dark, 3),
                n,
            )
            openings = np.array([fm.mouth_opening(m) for _, m in found])
            order = np.argsort(openings)
            open_order = order[openings[order] >= 0.08]
            if len(open_order) == 0:
                continue
            picks = [open_order[int(q * (len(open_order) - 1))] for q in np.linspace(0, 1, 8)]
            rows.append(row([crop(found[i][0], centre, half, 2) for i in picks]))
        results[name] = res
        print(args.tag, name, json.dumps(res), flush=True)
        sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)))
        y = 0
        for r in rows:
            sheet.paste(r, (0, y))
            y += r.height
        sheet.save(OUT / f"mouth_{args.tag}_{Path(name).stem}.png")
    (OUT / f"mouth_{args.tag}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
