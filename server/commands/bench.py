"""`gioconda bench ...`: benchmarks that print numbers measured on this machine."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# subcommand -> (engine module with add_arguments/run, help)
BENCHMARKS = {
    "decoder": ("engine.bench_decoder", "decoder frames/s at 512x512, torch and onnxruntime"),
    "motion": ("engine.bench_motion", "streaming motion generation cost as a fraction of a core"),
    "webrtc": ("server.bench_webrtc", "end-to-end latency, fps and CPU of a session over loopback"),
    "render": ("engine.bench_render", "per-stage ms on one backend and max 40 fps sessions"),
    "stream": ("engine.bench_stream", "live streams: latency p50/p95, fps, CPU, streams sustained"),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks (print numbers measured here)")
    benches = parser.add_subparsers(dest="bench", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        sub = benches.add_parser(name, help=help_text)
        _add_lazy_arguments(sub, module_name)
        sub.set_defaults(handler=_runner(module_name))


def _add_lazy_arguments(parser: argparse.ArgumentParser, module_name: str) -> None:
    # Argument definitions live next to the benchmark; importing it pulls in torch, which is
    # acceptable only once the user asked for a benchmark's help or run.
    module = importlib.import_module(module_name)
    module.add_arguments(parser)


def _runner(module_name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        result: int = importlib.import_module(module_name).run(args)
        return result

    return run
