"""The command line: building it stays cheap, and benchmark arguments still parse."""

from __future__ import annotations

import subprocess
import sys

from server.cli import build_parser


def test_building_the_command_line_does_not_import_torch() -> None:
    code = (
        "import sys; from server.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'mediapipe', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_benchmark_arguments_are_declared_when_that_benchmark_is_parsed() -> None:
    args = build_parser().parse_args(["bench", "render", "--backend", "onnxruntime"])
    assert args.backend == "onnxruntime" and args.profile == "low-latency"
    args = build_parser().parse_args(["bench", "stream", "--max-streams", "2"])
    assert args.max_streams == 2
