"""Flags of `gioconda bench watermark` (engine/bench/watermark.py measures and prints)."""

from __future__ import annotations

import argparse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PORTRAITS = ("astronaut.png", "mona_lisa.jpg", "caricature.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.bench.watermark import TRANSFORMS

    parser.add_argument(
        "--portraits",
        nargs="+",
        type=Path,
        default=None,
        help=f"portraits to render (default: {', '.join(PORTRAITS)} from ../shared/data/portraits "
        "or engine/assets, those present)",
    )
    parser.add_argument("--audio", type=Path, default=SHARED_DATA / "speech" / "jfk.flac")
    parser.add_argument("--seconds", type=float, default=4.0, help="of each render")
    parser.add_argument(
        "--real-videos",
        nargs="*",
        type=Path,
        default=None,
        help="unmarked videos for false positives (default: ../shared/data/video/**/*.mp4)",
    )
    parser.add_argument(
        "--transforms", nargs="+", choices=sorted(TRANSFORMS), default=list(TRANSFORMS)
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engine.avatar.source import load_avatar
    from engine.bench.watermark import FPS, report
    from engine.contract import StreamOptions
    from engine.stream.audio_input import read_audio_file
    from engine.stream.engine import StreamEngine
    from engine.stream.offline import render_frames

    portraits = args.portraits or _default_portraits()
    audio, rate_hz = read_audio_file(args.audio)
    audio = audio[: int(args.seconds * rate_hz)]
    options = replace(StreamOptions(fps=FPS, profile="quality"), watermark=None)
    engine = StreamEngine(threads=1)
    renders = {}
    try:
        for path in portraits:
            renders[path.stem] = render_frames(engine, load_avatar(path), audio, rate_hz, options)
    finally:
        engine.close()
    videos = args.real_videos
    if videos is None:
        videos = sorted((SHARED_DATA / "video").rglob("*.mp4"))
    report(renders, videos, args.transforms)
    return 0


def _default_portraits() -> list[Path]:
    found = []
    for name in PORTRAITS:
        for folder in (SHARED_DATA / "portraits", REPO_ROOT / "engine" / "assets"):
            if (folder / name).is_file():
                found.append(folder / name)
                break
    return found
