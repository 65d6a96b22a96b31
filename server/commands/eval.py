"""`gioconda eval motion`: the motion model's metrics table on speech clips (and a real video)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

PROFILES = ("low-latency", "balanced", "quality")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="evaluate models")
    targets = parser.add_subparsers(dest="eval_command", required=True)
    motion = targets.add_parser("motion", help="lip sync, silence, blinks, head motion, controls")
    motion.add_argument("--audio", type=Path, nargs="*", default=[], help="speech files (any rate)")
    motion.add_argument(
        "--video",
        type=Path,
        default=None,
        help="a real talking-face video: its audio is evaluated against its tracked motion",
    )
    motion.add_argument("--profile", choices=PROFILES, default="low-latency")
    motion.add_argument("--weights", type=Path, default=None, help="motion checkpoint to evaluate")
    motion.set_defaults(handler=run_motion)


def run_motion(args: argparse.Namespace) -> int:
    from engine.errors import EngineError
    from engine.tools.motion_eval import evaluate, format_table, load_audio_16k

    if not args.audio and args.video is None:
        raise EngineError("give --audio FILE... and/or --video FILE", reason="bad_arguments")
    generate, window_frames = _generator(args.weights, args.profile)
    for path in args.audio:
        rows = evaluate(load_audio_16k(path), generate, window_frames)
        print(format_table(rows, title=f"\n{path.name} (profile {args.profile})"))
    if args.video is not None:
        from engine.tools.video_extract import track_video

        track = track_video(args.video)
        rows = evaluate(track.audio_16k, generate, window_frames, real_motion=track.motion)
        print(format_table(rows, title=f"\n{args.video.name} vs its video ({args.profile})"))
    return 0


def _generator(weights: Path | None, profile: str) -> tuple[Any, int]:
    """The model side: engine.motion.clip, loaded once; a clear error when it is missing."""
    from engine.errors import EngineError

    try:
        from engine.motion import clip as motion_generate
    except ImportError as exc:
        raise EngineError(
            f"motion generation is not available ({exc}); install torch and the motion model",
            reason="no_motion_model",
        ) from exc
    from engine.tools.motion_eval import EvalControls

    model = motion_generate.load_motion_model(weights)

    def generate(audio: Any, seed: int, controls: EvalControls) -> Any:
        return motion_generate.generate_motion(
            audio,
            seed=seed,
            emotion=controls.emotion,
            emotion_intensity=controls.emotion_intensity,
            gaze=controls.gaze,
            head_distance=controls.head_distance,
            profile=profile,
            model=model,
        )

    return generate, motion_generate.window_frames(profile)
