"""`gioconda render`: the streaming pipeline fed from a file, muxed to H.264 + AAC MP4.

Hermetic: a random motion checkpoint saved here; the audio is written here at 22.05 kHz stereo.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest

from server.cli import main
from tests.test_motion_model import write_cli_inputs

SECONDS = 1.5
RATE_HZ = 22_050


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_cli_inputs(tmp_path_factory.mktemp("render"), SECONDS, seed=3, rate_hz=RATE_HZ)


def render(inputs: tuple[Path, Path], portrait: Path, output: Path, *extra: str) -> None:
    weights, wav = inputs
    argv = ["render", str(portrait), str(wav), "-o", str(output), "--weights", str(weights)]
    data_dir = output.parent / "data"  # the render's server id, C2PA key and audit row go here
    assert main([*argv, "--no-progress", "--data-dir", str(data_dir), *extra]) == 0


def decoded(path: Path) -> tuple[list[np.ndarray], dict[str, float]]:
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        info = {
            "fps": float(video.average_rate),
            "width": video.width,
            "height": video.height,
            "video_s": float(video.duration * video.time_base),
            "audio_s": float(audio.duration * audio.time_base),
            "audio_rate": audio.rate,
        }
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, info


def test_render_writes_synced_h264_aac_and_is_deterministic(
    inputs: tuple[Path, Path], portrait_path, tmp_path: Path
) -> None:
    portrait = portrait_path("astronaut.png")
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    render(inputs, portrait, first, "--seed", "7")
    render(inputs, portrait, second, "--seed", "7")
    frames, info = decoded(first)
    assert abs(len(frames) - math.ceil(SECONDS * 40)) <= 1
    assert (info["width"], info["height"], info["fps"]) == (512, 512, 40.0)
    assert abs(info["video_s"] - SECONDS) <= 1 / 40 and abs(info["audio_s"] - SECONDS) <= 1 / 40
    again, _ = decoded(second)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True)), "same seed"


def test_render_accepts_a_prepared_avatar_and_controls(
    inputs: tuple[Path, Path], prepared_avatar, tmp_path: Path
) -> None:
    avatar_file = tmp_path / "mona.avatar.npz"
    prepared_avatar("mona_lisa.jpg").save(avatar_file)
    output = tmp_path / "mona.mp4"
    render(
        inputs,
        avatar_file,
        output,
        "--fps",
        "25",
        "--emotion",
        "happy",
        "--emotion-intensity",
        "0.8",
        "--gaze",
        "0.3,-0.2",
        "--head-distance",
        "0.1",
    )
    frames, info = decoded(output)
    assert info["fps"] == 25.0 and abs(len(frames) - math.ceil(SECONDS * 25)) <= 1


def test_render_refuses_bad_controls_before_work(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    weights, wav = inputs
    argv = ["render", "astronaut", str(wav), "-o", str(tmp_path / "x.mp4"), "--emotion", "bored"]
    assert main(argv) == 2
    assert not (tmp_path / "x.mp4").exists()


def test_render_names_both_readings_of_an_unknown_portrait(
    inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, wav = inputs
    argv = ["render", str(tmp_path / "absent.png"), str(wav), "-o", str(tmp_path / "x.mp4")]
    assert main([*argv, "--data-dir", str(tmp_path / "store")]) == 2
    error = capsys.readouterr().err
    assert "no such image file" in error and "no avatar with that id" in error
    assert not (tmp_path / "x.mp4").exists()
