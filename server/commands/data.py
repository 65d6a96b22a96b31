"""`gioconda data synth` and `gioconda data extract`: training shards for the motion model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("data", help="make motion-model training shards")
    actions = parser.add_subparsers(dest="data_command", required=True)

    synth = actions.add_parser("synth", help="synthetic speech + motion corpus (espeak-ng)")
    synth.add_argument("--hours", type=float, required=True, help="hours of audio to generate")
    synth.add_argument("--out", type=Path, required=True, help="output folder for .npz shards")
    synth.add_argument("--seed", type=int, default=0, help="corpus seed (clip i uses (seed, i))")
    synth.set_defaults(handler=run_synth)

    extract = actions.add_parser("extract", help="track talking-face videos into motion shards")
    extract.add_argument("videos", type=Path, nargs="+", help="video files with speech")
    extract.add_argument("--out", type=Path, required=True, help="output folder for .npz shards")
    extract.add_argument(
        "--max-clip-s", type=float, default=20.0, help="split long videos into clips this long"
    )
    extract.set_defaults(handler=run_extract)


def run_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from engine.tools.training import synthesize_corpus

    total_s = args.hours * 3600.0
    with tqdm(total=round(total_s), unit="s", desc="synth audio") as bar:
        summary = synthesize_corpus(
            args.hours, args.out, seed=args.seed, progress=lambda s: bar.update(round(s))
        )
    print(
        f"{summary.clips} clips, {summary.seconds / 3600:.2f} h of audio in {args.out} "
        f"({summary.reused_clips} already there)"
    )
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from engine.tools.video_extract import extract_videos

    paths = extract_videos(args.videos, args.out, max_clip_s=args.max_clip_s)
    print(f"{len(paths)} shards written to {args.out}")
    # Some videos may be skipped (logged); none usable at all is a failed run.
    return 0 if paths else 1
