"""Blink and gaze of drawn eyes (issue 12), measured on their own pixels: the re-detector of
scripts/face_eval.py does not fit anime eyes (it lays them in a band under the lash line, open
or closed, and reads their irises off the lashes), so its numbers say little there.

    PYTHONPATH=$PWD python scripts/drawn_eye_eval.py [--before TREE] PORTRAIT ...

Per portrait and eye, with the eye as this tree finds it (models/drawn_eye.py; a photo's eye
is the mesh's, whose blink face_eval.py measures): the share of its opening that still shows
eye (farther than 40 levels from the lid's colour, as tests/test_drawn_eye.py counts) at
eyeBlink*=1 over open, and how far its iris (the opening's pixels darker than 0.6 of its light
level) moves at eyeLookX=+1 and -1, in inter-ocular distances. With --before, the same for
frames rendered by another tree (an export of the old code, `git archive REV | tar -x -C
TREE`), measured on this tree's eyes.
"""

# ruff: noqa: E402  (one compute thread before the engine imports)

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from eval_common import ROOT, portrait

CHANGED = 40.0  # levels from the lid's colour: still eye
IRIS_OF_LIGHT = 0.6  # iris pixels: darker than this much of the opening's light (90th) level
POSES = {
    "open": dict(eyeBlinkLeft=0.0, eyeBlinkRight=0.0, eyeLookX=0.0, eyeLookY=0.0),
    "shut": dict(eyeBlinkLeft=1.0, eyeBlinkRight=1.0),
    "right": dict(eyeLookX=1.0, eyeLookY=0.0),
    "left": dict(eyeLookX=-1.0, eyeLookY=0.0),
}


def render(names: list[str], out: Path) -> None:
    """Prepare and render each portrait in the poses with the engine on sys.path; save them."""
    from engine.avatar.prepare import prepare_avatar
    from engine.render.renderer import AvatarRenderer
    from models import motion_space as ms

    for name in names:
        avatar = prepare_avatar(portrait(name))
        renderer = AvatarRenderer(avatar)
        frames = {
            pose: renderer.render(ms.with_fields(avatar.source_motion, **fields))[0]
            for pose, fields in POSES.items()
        }
        np.savez(out / f"{name}.npz", image=avatar.image, landmarks=avatar.landmarks_px, **frames)


def this_trees_eyes(image: np.ndarray, landmarks: np.ndarray) -> tuple[list, np.ndarray]:
    """The portrait's eye shapes as this tree finds them, and each closed lid's colour."""
    from models import face_rig

    skin = face_rig.face_skin(image, landmarks)
    shapes = face_rig.eye_shapes(image, landmarks, skin)
    return shapes, face_rig._lid_colours(image, shapes, skin) * 255.0


def measure(frames: dict[str, np.ndarray], shapes: list, lids: np.ndarray) -> str:
    from models.drawn_eye import luma_of

    iod = float(np.linalg.norm(shapes[0].iris_centre - shapes[1].iris_centre))

    def iris_x(frame: np.ndarray, opening: np.ndarray) -> float:
        luma = luma_of(frame)
        dark = opening & (luma < IRIS_OF_LIGHT * np.percentile(luma[opening], 90))
        return float(np.nonzero(dark)[1].mean()) if dark.any() else float("nan")

    out = []
    for side, shape, lid in zip(("L", "R"), shapes, lids, strict=True):

        def showing(frame: np.ndarray, shape=shape, lid=lid) -> float:
            pixels = frame[shape.opening].astype(np.float32)
            return float((np.abs(pixels - lid).max(-1) > CHANGED).mean())

        closed = showing(frames["shut"]) / max(showing(frames["open"]), 1e-6)
        still = iris_x(frames["open"], shape.opening)
        right = (iris_x(frames["right"], shape.opening) - still) / iod
        left = (iris_x(frames["left"], shape.opening) - still) / iod
        # (a photo's closed lid keeps its texture, which this count takes for eye)
        blink = f"blink {closed:.2f}" if shape.drawn else "mesh eye: see face_eval.py"
        out.append(f"{side} {blink}  iris x+ {right:+.3f} x- {left:+.3f}")
    return "   ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("portraits", nargs="+")
    parser.add_argument("--before", type=Path, help="a tree to render the before frames with")
    parser.add_argument("--render-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_only:
        render(args.portraits, args.render_only)
        return
    with tempfile.TemporaryDirectory() as folder:
        trees = {"now": (ROOT, Path(folder) / "now")}
        if args.before:
            trees = {"before": (args.before.resolve(), Path(folder) / "before"), **trees}
        for tree, out in trees.values():
            out.mkdir()
            command = [sys.executable, __file__, "--render-only", str(out), *args.portraits]
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run(command, check=True, cwd=tree, env=env)
        for name in args.portraits:
            now = np.load(trees["now"][1] / f"{name}.npz")
            shapes, lids = this_trees_eyes(now["image"], now["landmarks"])  # for both trees
            for label, (_, out) in trees.items():
                saved = np.load(out / f"{name}.npz")
                frames = {pose: saved[pose] for pose in POSES}
                print(f"{name:28s} {label:6s} {measure(frames, shapes, lids)}")


if __name__ == "__main__":
    main()
