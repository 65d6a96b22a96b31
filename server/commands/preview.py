"""`gioconda preview`: a contact sheet of what the decoder does with a portrait, or one frame."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="render a labelled contact sheet (or one frame with --set) of a portrait",
        description="Without --set: a contact sheet with the portrait and every motion field at "
        "its extremes. With --set NAME=VALUE (repeatable): one 512x512 frame with those fields set "
        "and the others at the portrait's own values.",
    )
    parser.add_argument(
        "image",
        nargs="?",
        type=Path,
        default=None,
        help="portrait image or prepared .avatar.npz (default: the built-in portrait)",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a motion field, e.g. --set jawOpen=1 --set yaw=0.3",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from engine.avatar.source import load_avatar
    from engine.render.preview import contact_sheet, parse_settings, render_with

    settings = parse_settings(args.settings)  # fail fast, before the portrait is prepared
    avatar = load_avatar(args.image)
    image = render_with(avatar, settings) if settings else contact_sheet(avatar)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(args.output)
    print(f"wrote {args.output} ({image.shape[1]}x{image.shape[0]})")
    return 0
