"""`gioconda train motion`: train the audio-to-motion model on shard folders."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

PRESETS = ("S", "B")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train models")
    models = parser.add_subparsers(dest="train_command", required=True)

    motion = models.add_parser("motion", help="audio encoder + motion diffusion transformer")
    motion.add_argument("--data", type=Path, nargs="+", required=True, help="shard folders")
    motion.add_argument(
        "--val",
        type=Path,
        nargs="*",
        default=None,
        help="validation shard folders (default: a fixed 5%% of --data)",
    )
    motion.add_argument("--preset", choices=PRESETS, default="S", help="model size")
    motion.add_argument("--steps", type=int, default=20_000, help="optimizer steps")
    motion.add_argument("--batch-size", type=int, default=64)
    motion.add_argument("--lr", type=float, default=7e-4, help="peak learning rate")
    motion.add_argument("--val-every", type=int, default=500, help="steps between validations")
    motion.add_argument(
        "--max-minutes", type=float, default=None, help="stop (and save) after this wall time"
    )
    motion.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, log)")
    motion.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    motion.add_argument(
        "--init",
        type=Path,
        default=None,
        help="fine-tune from this inference checkpoint of the same preset "
        "(e.g. models/weights/motion_S.pt)",
    )
    motion.add_argument(
        "--export",
        type=Path,
        default=None,
        help="copy each new best inference checkpoint here (e.g. models/weights/motion_S.pt)",
    )
    motion.add_argument("--threads", type=int, default=1, help="torch compute threads")
    motion.add_argument(
        "--soft-phrases",
        type=float,
        default=0.0,
        metavar="P",
        help="share of synthetic training clips spoken with soft stretches (-12..-4 dB over "
        "0.3-1.5 s) under unchanged mouth targets (default 0)",
    )
    motion.set_defaults(handler=run_motion)


def run_motion(args: argparse.Namespace) -> int:
    from engine.tools.training import (
        TrainConfig,
        check_fine_tune_source,
        set_compute_threads,
        train,
    )

    if args.init is not None:
        check_fine_tune_source(args.init, args.preset)
    set_compute_threads(args.threads)
    config = TrainConfig(
        preset=args.preset,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        val_every=args.val_every,
        checkpoint_every=args.val_every,
        max_minutes=args.max_minutes,
        soft_phrase_p=args.soft_phrases,
    )
    export: Path | None = args.export

    def on_best(best: Path) -> None:
        if export is not None:
            export.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(best, export)

    state = train(args.data, args.out, config, args.val, args.resume, on_best, args.init)
    print(f"done at step {state.step}; best validation loss {state.best_val:.4f}")
    return 0
