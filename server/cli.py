"""The `gioconda` command line: one subcommand per module in server/commands.

Each command module exposes `register(subparsers)`; heavy imports (torch, mediapipe) happen inside
the command's handler so `gioconda --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from engine.errors import EngineError

# Modules under server.commands, in the order they appear in --help.
COMMAND_MODULES = (
    "serve",
    "speak",
    "say",
    "livekit-worker",
    "prepare",
    "preview",
    "render",
    "motion",
    "detect",
    "bench",
    "data",
    "train",
    "eval",
    "export",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gioconda", description="Real-time talking avatar from one portrait and speech."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"server.commands.{name.replace('-', '_')}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.handler(args)
    except EngineError as exc:
        print(f"gioconda: error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
