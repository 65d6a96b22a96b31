"""The command line: building it stays cheap, and benchmark arguments still parse."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


def test_counts_are_checked_where_they_are_given() -> None:
    args = build_parser().parse_args(["bench", "stream", "--streams", "8,16", "--workers", "2"])
    assert args.streams == (8, 16) and args.workers == 2
    for argv in (
        ["bench", "stream", "--workers", "0"],
        ["bench", "stream", "--streams", "2,x"],
        ["bench", "render", "--batches", "1,0"],
        ["serve", "--workers", "0"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", *argv], capture_output=True, text=True
        )
        assert done.returncode == 2 and ">= 1" in done.stderr, argv


def test_a_bad_setting_from_the_environment_is_one_clear_line() -> None:
    env = {**os.environ, "GIOCONDA_ENGINE_WORKERS": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gioconda serve: setting engine_workers: Input should be greater than or equal to 1"
    )


def test_eval_motion_real_only_takes_videos_only(capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli import main

    assert main(["eval", "motion", "--real-only", "--audio", "speech.wav"]) == 2
    assert "--real-only takes --video FILE... only" in capsys.readouterr().err
    assert main(["eval", "motion"]) == 2
    error = capsys.readouterr().err
    assert "give --audio FILE..., --video FILE... and/or --say LANG:TEXT..." in error


def test_bench_decoder_prints_wall_and_cpu_time_per_frame(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The decoder budget is judged against the old decoder on a shared machine, where wall
    time mostly measures waiting for a core: each row also gives this thread's CPU time."""
    from server.cli import main

    assert main(["bench", "decoder", "--frames", "4", "--batch", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "budget 12 ms of CPU per frame" in lines[0]
    assert lines[1].split() == ["backend", "batch", "ms/frame", "cpu", "ms", "fps"]
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[2:]}
    assert set(rows) == {"torch", "onnxruntime"}
    for batch, wall_ms, cpu_ms, fps in rows.values():
        assert batch == 2 and 0.0 < cpu_ms and 0.0 < wall_ms
        assert fps == pytest.approx(1000.0 / wall_ms, rel=0.01)
