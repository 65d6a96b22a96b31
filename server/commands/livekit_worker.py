"""`gioconda livekit-worker`: register with a LiveKit server as the avatar worker that
GiocondaAvatarSession dispatches (server/integrations/livekit; docs/agents.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "livekit-worker",
        help="serve avatars to LiveKit rooms as a LiveKit Agents worker ([livekit] extra)",
        description="Connects to LIVEKIT_URL with LIVEKIT_API_KEY / LIVEKIT_API_SECRET and takes "
        "jobs for agent name 'gioconda-avatar'. Run one per machine; LiveKit spreads rooms "
        "across all registered workers.",
    )
    parser.add_argument(
        "--avatar",
        action="append",
        default=[],
        metavar="[ID=]PATH",
        help="a prepared .avatar.npz (or a portrait, where mediapipe is installed); repeat for "
        "several; the first is the default (none: the built-in portrait)",
    )
    parser.add_argument("--profile", default="low-latency", help="motion profile")
    parser.add_argument("--fps", type=int, default=40, choices=(25, 30, 40, 50))
    parser.add_argument("--max-sessions", type=int, default=2, help="jobs this worker takes")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from livekit.agents import cli
    except ImportError:
        print("gioconda livekit-worker: needs the [livekit] extra (scripts/setup_agents.sh)")
        return 2
    from engine.avatar.source import DEFAULT_PORTRAIT
    from server.integrations.livekit.worker import WorkerConfig, worker_options

    avatars = dict(_avatar(spec) for spec in args.avatar) or {"astronaut": DEFAULT_PORTRAIT}
    config = WorkerConfig(
        avatars=avatars,
        default_avatar=next(iter(avatars)),
        profile=args.profile,
        fps=args.fps,
        max_sessions=args.max_sessions,
    )
    sys.argv = [sys.argv[0], "start"]  # livekit's CLI reads its own argv: production mode
    cli.run_app(worker_options(config))
    return 0


def _avatar(spec: str) -> tuple[str, Path]:
    name, _, path = spec.rpartition("=")
    file = Path(path)
    return (name or file.name.split(".")[0]), file
