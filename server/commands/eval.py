"""`gioconda eval motion`: the motion model's metrics table on speech clips (and a real video)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

PROFILES = ("low-latency", "balanced", "quality")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="evaluate models")
    targets = parser.add_subparsers(dest="eval_command", required=True)
    motion = targets.add_parser(
        "motion",
        help="lip sync, silence, blinks, head motion, controls",
        description="Articulation measures (issue 17): speech = frames whose 200 ms RMS "
        "envelope is above 15 % of its 95th percentile, both measured above the clip's noise "
        "floor (the power of its quietest 10 % of 40 ms frames, subtracted), so hiss or noise "
        "in the pauses is not counted as speech; gap = inner-lip gap / mouth width; shut = gap "
        "< 0.03. Reported: median opening in speech, share of speech shut, longest shut run.",
    )
    motion.add_argument("--audio", type=Path, nargs="*", default=[], help="speech files (any rate)")
    motion.add_argument(
        "--video",
        type=Path,
        nargs="*",
        default=[],
        help="real talking-face videos: each one's audio is evaluated against its tracked motion",
    )
    motion.add_argument(
        "--say",
        nargs="*",
        default=[],
        metavar="LANG:TEXT",
        help="speech made here by espeak-ng (voice LANG, e.g. de:'Guten Morgen, Anna.'), whose "
        "phoneme timings are known: its summary line and the phoneme-timed lip AUC (gap at open "
        "vowels vs at p/b/m)",
    )
    motion.add_argument("--profile", choices=PROFILES, default="low-latency")
    motion.add_argument(
        "--real-only",
        action="store_true",
        help="with --video: only the tracked real motion's measures (no model, reference numbers)",
    )
    motion.add_argument(
        "--summary",
        action="store_true",
        help="one line per clip (seed 0, no controls) instead of the full table",
    )
    motion.add_argument("--weights", type=Path, default=None, help="motion checkpoint to evaluate")
    motion.set_defaults(handler=run_motion)


def run_motion(args: argparse.Namespace) -> int:
    from engine.errors import EngineError
    from engine.tools.motion_eval import evaluate, format_table, load_audio_16k

    if not args.audio and not args.video and not args.say:
        raise EngineError(
            "give --audio FILE..., --video FILE... and/or --say LANG:TEXT...",
            reason="bad_arguments",
        )
    if args.real_only:
        if args.audio or args.say or not args.video:
            raise EngineError("--real-only takes --video FILE... only", reason="bad_arguments")
        return _real_only(args.video)
    generate, window_frames = _generator(args.weights, args.profile)
    if args.say:
        _phoneme_checks(generate, args.say)
        if not args.audio and not args.video:
            return 0
    if args.summary:
        return _summary(generate, args.audio, args.video)
    for path in args.audio:
        rows = evaluate(load_audio_16k(path), generate, window_frames)
        print(format_table(rows, title=f"\n{path.name} (profile {args.profile})"))
    for video in args.video:
        from engine.tools.video_extract import track_video

        track = track_video(video)
        rows = evaluate(track.audio_16k, generate, window_frames, real_motion=track.motion)
        print(format_table(rows, title=f"\n{video.name} vs its video ({args.profile})"))
    return 0


def _real_only(videos: list[Path]) -> int:
    """One line per video: the tracked real motion's measures."""
    from engine.tools.motion_eval import summary_line
    from engine.tools.video_extract import track_video

    print(summary_line(None))
    for video in videos:
        track = track_video(video)
        print(summary_line(video.name, track.motion, track.audio_16k), flush=True)
    return 0


def _summary(generate: Any, audio_paths: list[Path], videos: list[Path]) -> int:
    """One line per clip of the generated motion's measures (and each video's real motion)."""
    from engine.tools.motion_eval import EvalControls, load_audio_16k, summary_line

    print(summary_line(None))
    for path in audio_paths:
        audio = load_audio_16k(path)
        print(summary_line(path.name, generate(audio, 0, EvalControls()), audio), flush=True)
    for video in videos:
        from engine.tools.video_extract import track_video

        track = track_video(video)
        motion = generate(track.audio_16k, 0, EvalControls())
        print(summary_line(video.name, motion, track.audio_16k))
        print(summary_line("  (real, tracked)", track.motion, track.audio_16k), flush=True)
    return 0


def _phoneme_checks(generate: Any, specs: list[str]) -> None:
    """Summary line and phoneme-timed lip AUC of each LANG:TEXT spoken by espeak-ng."""
    from engine.tools.motion_eval import (
        EvalControls,
        espeak_clip,
        phoneme_lip_auc,
        summary_line,
    )

    print(summary_line(None) + f" {'lip AUC':>8} {'vowels/pbm':>10}")
    for spec in specs:
        audio, phonemes = espeak_clip(spec)
        motion = generate(audio, 0, EvalControls())
        result = phoneme_lip_auc(motion, phonemes, len(audio) / 16_000)
        auc = "n/a" if result is None else f"{result[0]:.3f}"
        counts = "-" if result is None else f"{result[1]}/{result[2]}"
        name = spec.split(":", 1)[0] + ": " + spec.split(":", 1)[1][:24]
        print(summary_line(name, motion, audio) + f" {auc:>8} {counts:>10}", flush=True)


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
