"""`gioconda render IMAGE AUDIO -o OUT.mp4`: a talking-face video file from a portrait and speech.

The render is the streaming engine fed from the file as fast as it goes (engine.stream.offline);
H.264 + AAC in MP4, deterministic for a seed, with a progress bar.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.avatar.store import DEFAULT_STORE_DIR

if TYPE_CHECKING:
    from engine.avatar.prepared import PreparedAvatar


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a talking-face MP4 from a portrait (or avatar id) and an audio file",
        description="IMAGE is a portrait image, a prepared .avatar.npz, or an avatar id from the "
        "avatar store (built-ins: astronaut, mona-lisa, ...). AUDIO is any length, any rate.",
    )
    parser.add_argument("image", help="portrait image, .avatar.npz, or avatar id")
    parser.add_argument("audio", type=Path, help="speech audio (wav, flac, ogg, mp3, ...)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="MP4 file to write")
    parser.add_argument("--emotion", default="neutral", help="neutral|happy|sad|angry|surprised")
    parser.add_argument("--emotion-intensity", type=float, default=0.0, help="0..1")
    parser.add_argument("--gaze", default="0,0", help="X,Y in -1..1 (+x right, +y down)")
    parser.add_argument("--head-distance", type=float, default=0.0, help="log scale, + closer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=int, default=40, choices=(25, 30, 40, 50))
    parser.add_argument(
        "--profile",
        default="quality",
        help="motion profile (default quality: offline has no latency budget, and its long "
        "windows are also the cheapest per frame), balanced or low-latency",
    )
    parser.add_argument("--weights", type=Path, default=None, help="motion model checkpoint")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("GIOCONDA_DATA_DIR", DEFAULT_STORE_DIR)),
        help="avatar store folder, for avatar ids (default: $GIOCONDA_DATA_DIR or %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from engine.contract import Controls, StreamOptions
    from engine.stream.engine import StreamEngine, validate_options
    from engine.stream.offline import render_file

    gaze_x, gaze_y = _parse_gaze(args.gaze)
    controls = Controls(
        emotion=args.emotion,
        emotion_intensity=args.emotion_intensity,
        gaze_x=gaze_x,
        gaze_y=gaze_y,
        head_distance=args.head_distance,
    )
    options = StreamOptions(
        avatar_id=str(args.image),
        profile=args.profile,
        fps=args.fps,
        seed=args.seed,
        controls=controls,
    )
    validate_options(options)  # fail fast, before a portrait is prepared
    if not args.audio.is_file():
        raise SystemExit(f"gioconda render: error: {args.audio}: no such file")
    avatar = _resolve_avatar(args.image, args.data_dir)
    engine = StreamEngine(threads=1, weights=args.weights)
    try:
        summary = render_file(
            avatar, args.audio, args.output, options, engine=engine, progress=not args.no_progress
        )
    finally:
        engine.close()
    print(
        f"wrote {args.output}: {summary.frames} frames at {args.fps} fps, {summary.audio_s:.2f} s "
        f"of audio in {summary.wall_s:.1f} s ({summary.speed:.2f}x real time)"
    )
    return 0


def _parse_gaze(text: str) -> tuple[float, float]:
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        raise SystemExit(f"gioconda render: error: --gaze expects X,Y, got {text!r}") from None
    return x, y


def _resolve_avatar(source: str, data_dir: Path) -> PreparedAvatar:
    """An image or .avatar.npz path, else an avatar id from the store (when it is available)."""
    from engine.avatar.source import load_avatar
    from engine.errors import AvatarError

    path = Path(source)
    if path.is_file():
        return load_avatar(path)
    try:
        from engine.avatar.store import AvatarStore
    except ImportError:
        raise AvatarError(f"{source}: no such file", "not_found") from None
    try:
        return AvatarStore(data_dir).load(source)
    except AvatarError as exc:
        if exc.reason == "not_found":  # say both things the argument could have been
            raise AvatarError(
                f"{source}: no such image file, and no avatar with that id in {data_dir}",
                "not_found",
            ) from None
        raise
