"""`gioconda bench ...`: benchmarks that print numbers measured on this machine.

Every benchmark's arguments are declared here; the measuring code lives in engine/bench (and
server/clients for the WebRTC one) and takes a frozen options dataclass. Those modules pull in
torch, so they are imported only when their benchmark runs: `gioconda --help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.backends.base import BackendName, Precision
from engine.motion.profiles import PROFILES
from server.commands import bench_watermark
from server.commands.arg_types import positive_int, positive_ints

# subcommand -> (module, options class, run function, help)
BENCHMARKS = {
    "decoder": (
        "engine.bench.decoder",
        "DecoderBenchOptions",
        "decoder frames/s at 512x512, torch and onnxruntime",
    ),
    "motion": (
        "engine.bench.motion",
        "MotionBenchOptions",
        "streaming motion generation cost as a fraction of a core",
    ),
    "webrtc": (
        "server.clients.bench_webrtc",
        "WebrtcBenchOptions",
        "end-to-end latency, fps and CPU of a session over loopback",
    ),
    "render": (
        "engine.bench.render",
        "RenderBenchOptions",
        "per-stage ms on one backend and max 40 fps sessions",
    ),
    "stream": (
        "engine.bench.stream",
        "StreamBenchOptions",
        "live streams: latency p50/p95, fps, CPU, streams sustained",
    ),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks (print numbers measured here)")
    benches = parser.add_subparsers(dest="bench", required=True)
    for name, (module_name, options_name, help_text) in BENCHMARKS.items():
        sub = benches.add_parser(name, help=help_text)
        ARGUMENTS[name](sub)
        sub.set_defaults(handler=_runner(module_name, options_name))
    watermark = benches.add_parser(
        "watermark",
        help="invisible watermark: detection per transform, false positives, PSNR, ms per frame",
    )
    bench_watermark.add_arguments(watermark)
    watermark.set_defaults(handler=bench_watermark.run)


def _runner(module_name: str, options_name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        module = importlib.import_module(module_name)
        options_class = getattr(module, options_name)
        names = {field.name for field in dataclasses.fields(options_class)}
        options = options_class(**{name: getattr(args, name) for name in names})
        result: int = module.run(options)
        return result

    return run


def _decoder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image",
        nargs="?",
        type=Path,
        default=None,
        help="portrait or .avatar.npz (default: the built-in portrait)",
    )
    parser.add_argument("--frames", type=int, default=120, help="frames per measurement")
    parser.add_argument(
        "--batch",
        type=int,
        action="append",
        default=None,
        help="batch size(s) to measure (default: 1 and 8)",
    )
    parser.add_argument("--threads", type=int, default=1, help="compute threads (default 1)")


def _motion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=sorted(PROFILES), default="low-latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio to stream")
    parser.add_argument("--weights", type=Path, default=None, help="motion checkpoint")
    parser.add_argument(
        "--backend",
        choices=[str(n) for n in BackendName],
        default=str(BackendName.AUTO),
        help="motion denoiser backend, picked as the stream engine picks it (default auto: "
        "onnxruntime on a CPU, exported on the spot)",
    )
    parser.add_argument(
        "--chunk-ms",
        type=int,
        default=0,
        help="push audio in fixed chunks of this many ms (default 0: placed per window, as a "
        "session's pipeline does)",
    )


def _webrtc(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a running server (default: start one here)")
    parser.add_argument("--bursts", type=int, default=8, help="speech bursts to measure")
    parser.add_argument("--burst-s", type=float, default=0.8, help="length of each burst")
    parser.add_argument("--gap-s", type=float, default=2.2, help="silence between bursts")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="low-latency")
    parser.add_argument("--audio", type=Path, help="speech file the bursts are cut from")
    parser.add_argument("--avatar", default="default", help="avatar id")
    parser.add_argument(
        "--background-load",
        type=int,
        default=0,
        metavar="N",
        help="N CPU-bound processes beside the server during the bursts, then --recover-bursts "
        "without them; prints latency, fps and frame gap per burst and the loaded latency's "
        "spread and trend over 4 s windows",
    )
    parser.add_argument(
        "--uploads", type=int, default=0, help="with --background-load: portraits uploaded"
    )
    parser.add_argument(
        "--recover-bursts",
        type=int,
        default=3,
        help="with --background-load: bursts measured after the load ends",
    )


def _render(parser: argparse.ArgumentParser) -> None:
    names = [str(n) for n in BackendName if n != BackendName.AUTO]
    parser.add_argument("--backend", choices=names, default=str(BackendName.TORCH_CPU))
    parser.add_argument("--profile", choices=sorted(PROFILES), default="low-latency")
    parser.add_argument(
        "--precision", choices=[str(p) for p in Precision], default="fp32", help="GPU backends"
    )
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="folder written by `gioconda export` (default: export into a temporary folder)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="motion checkpoint")
    parser.add_argument("--image", type=Path, default=None, help="portrait or .avatar.npz")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per stage")
    parser.add_argument(
        "--batches",
        type=positive_ints,
        default=(1, 8),
        help="decoder batch sizes, comma-separated (default 1,8; on a GPU try 1,8,32,64)",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU compute threads (default 1)")


def _stream(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", type=Path, default=None, help="portrait or .avatar.npz")
    parser.add_argument("--seconds", type=float, default=12.0, help="per trial")
    parser.add_argument("--profile", default="low-latency")
    parser.add_argument("--fps", type=int, default=40)
    parser.add_argument("--max-streams", type=int, default=4, help="try 1, 2, ... up to this")
    parser.add_argument(
        "--streams",
        type=positive_ints,
        default=None,
        help="stream counts to try instead, comma-separated (e.g. 8,16,32 on a GPU)",
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="model worker threads")
    parser.add_argument(
        "--motion-backend",
        choices=[str(n) for n in BackendName],
        default=None,
        help="motion denoiser backend (default: the decoder's, auto); onnxruntime and tensorrt "
        "export the motion graphs to a temporary folder first",
    )
    parser.add_argument(
        "--distinct-avatars",
        action="store_true",
        help="each stream on its own avatar copy (separate renderers) instead of one shared",
    )
    parser.add_argument(
        "--outputs",
        default="video",
        help="what each stream returns besides audio: video, blendshapes, or video,blendshapes "
        "(blendshapes alone decodes no frame)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="motion model checkpoint")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--background-load",
        type=int,
        default=None,
        metavar="N",
        help="instead of the trials: one real-time stream with N CPU-bound processes beside it "
        "for --seconds, then 8 s without; prints delay, fps and frame gaps per 4 s window",
    )
    parser.add_argument(
        "--uploads",
        type=int,
        default=0,
        help="with --background-load: prepare this many portraits during the loaded part",
    )


ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "decoder": _decoder,
    "motion": _motion,
    "webrtc": _webrtc,
    "render": _render,
    "stream": _stream,
}
