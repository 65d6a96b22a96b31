"""`gioconda motion AUDIO -o OUT.csv|OUT.json`: the ARKit blendshape track of speech, for 3D
avatars and robots; no portrait and no video (engine.motion.blendshape_clip)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from server.commands.render import add_control_arguments, controls_from

DEFAULT_RATE_HZ = 30


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "motion",
        help="write the ARKit blendshape track (CSV or JSON) of an audio file, no video",
        description="One row per frame: time, the 52 ARKit blendshapes, head rotation (degrees) "
        "and translation, gaze (docs/blendshapes.md). The format follows the file name.",
    )
    parser.add_argument("audio", type=Path, help="speech audio (wav, flac, ogg, mp3, ...)")
    parser.add_argument("-o", "--output", type=Path, required=True, help=".csv or .json to write")
    parser.add_argument(
        "--fps", type=int, default=DEFAULT_RATE_HZ, choices=(25, 30, 40, 50, 60), help="frame rate"
    )
    add_control_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.motion.blendshape_clip import clip_blendshapes
    from engine.motion.blendshapes import check_path, write_track
    from engine.motion.clip import load_motion_model

    check_path(args.output)
    controls = controls_from(args)
    if not args.audio.is_file():
        raise SystemExit(f"gioconda motion: error: {args.audio}: no such file")
    track = clip_blendshapes(
        args.audio,
        args.fps,
        controls=controls,
        profile=args.profile,
        seed=args.seed,
        model=load_motion_model(args.weights),
    )
    write_track(args.output, track)
    print(f"wrote {args.output}: {len(track.rows)} frames at {args.fps} fps")
    return 0
