"""`gioconda bench ...`: benchmarks that print numbers measured on this machine."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# subcommand -> (engine module with add_arguments/run, help)
BENCHMARKS = {
    "decoder": ("engine.bench.decoder", "decoder frames/s at 512x512, torch and onnxruntime"),
    "motion": ("engine.bench.motion", "streaming motion generation cost as a fraction of a core"),
    "webrtc": ("server.clients.bench_webrtc", "end-to-end latency, fps and CPU of a session over loopback"),
    "render": ("engine.bench.render", "per-stage ms on one backend and max 40 fps sessions"),
    "stream": ("engine.bench.stream", "live streams: latency p50/p95, fps, CPU, streams sustained"),
}


class _LazyArgumentsParser(argparse.ArgumentParser):
    """A benchmark's parser whose arguments are declared by its engine module, imported only when
    this benchmark is the one being parsed: the modules pull in torch, so building the whole
    command line (for `gioconda --help` or any other command) stays fast."""

    module_name = ""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self.module_name:
            importlib.import_module(self.module_name).add_arguments(self)
            self.module_name = ""
        return super().parse_known_args(args, namespace)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks (print numbers measured here)")
    benches = parser.add_subparsers(dest="bench", required=True, parser_class=_LazyArgumentsParser)
    for name, (module_name, help_text) in BENCHMARKS.items():
        sub = benches.add_parser(name, help=help_text)
        sub.module_name = module_name
        sub.set_defaults(handler=_runner(module_name))


def _runner(module_name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        result: int = importlib.import_module(module_name).run(args)
        return result

    return run
