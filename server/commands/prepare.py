"""`gioconda prepare`: turn a portrait into a prepared `.avatar.npz` file.

Preparing needs mediapipe (the `[portraits]` extra); everything that renders loads the file, so a
Pipecat or LiveKit environment, which cannot install mediapipe, uses avatars prepared here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="prepare a portrait once into a .avatar.npz (for environments without mediapipe)",
        description="Find the face, crop and precompute what the decoder needs, and save it. "
        "The file loads anywhere Gioconda runs, including Pipecat and LiveKit environments.",
    )
    parser.add_argument("image", type=Path, help="portrait image (PNG, JPEG, WebP)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="file to write (default: IMAGE's name with .avatar.npz, in the current folder)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.avatar.prepare import prepare_avatar
    from engine.avatar.source import AVATAR_SUFFIX

    output: Path = args.output or Path(args.image.stem + AVATAR_SUFFIX)
    if not output.name.endswith(AVATAR_SUFFIX):
        raise SystemExit(f"gioconda prepare: error: the output name must end with {AVATAR_SUFFIX}")
    started_s = time.perf_counter()
    avatar = prepare_avatar(args.image)
    output.parent.mkdir(parents=True, exist_ok=True)
    avatar.save(output)
    print(
        f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB) in "
        f"{time.perf_counter() - started_s:.1f} s"
    )
    return 0
