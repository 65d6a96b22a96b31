"""The ARKit blendshape export (issue 19): `gioconda motion AUDIO -o OUT.csv|json` and
`gioconda render ... --blendshapes OUT`: the file's columns and rate, resampling that
interpolates, and on the trained model with real speech: jawOpen follows the audio envelope at
least as well as the rendered video's mouth does, blinks are eyeBlink pulses, and each emotion
moves its own coefficients. The trained-model tests skip without the weights or ../shared/data."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

from engine.errors import EngineError
from engine.motion.blendshapes import (
    ARKIT_BLENDSHAPES,
    GAZE_COLUMNS,
    HEAD_COLUMNS,
    UNMODELLED,
    BlendshapeTrack,
    check_path,
    resample,
    to_blendshapes,
)
from models import motion_space as ms
from models.motion_checkpoint import MotionModel
from server.cli import main
from tests.test_motion_model import write_cli_inputs

SECONDS = 1.3
RATE_HZ = 22_050


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(random motion checkpoint, 22.05 kHz stereo speech-like wav), written here."""
    return write_cli_inputs(
        tmp_path_factory.mktemp("blendshapes"), SECONDS, seed=5, rate_hz=RATE_HZ
    )


@pytest.fixture(scope="module")
def astronaut(prepared_avatar, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The astronaut prepared once, as a .avatar.npz the CLI loads without preparing again."""
    path = tmp_path_factory.mktemp("avatar") / "astronaut.avatar.npz"
    prepared_avatar("astronaut.png").save(path)
    return str(path)


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open() as handle:
        rows = list(csv.reader(handle))
    return rows[0], np.array(rows[1:], dtype=np.float64)


def test_the_csv_has_time_then_the_52_arkit_names_head_and_gaze_at_the_asked_rate(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    weights, wav = inputs
    for fps in (25, 30, 60):
        out = tmp_path / f"m{fps}.csv"
        assert (
            main(["motion", str(wav), "-o", str(out), "--fps", str(fps), "--weights", str(weights)])
            == 0
        )
        header, rows = read_csv(out)
        assert header == ["time_s", *ARKIT_BLENDSHAPES, *HEAD_COLUMNS, *GAZE_COLUMNS]
        assert len(ARKIT_BLENDSHAPES) == len(set(ARKIT_BLENDSHAPES)) == 52
        assert len(rows) == math.ceil(SECONDS * fps), "as long as the audio"
        np.testing.assert_allclose(np.diff(rows[:, 0]), 1.0 / fps, atol=2e-6)
        assert rows[0, 0] == 0.0
        for name in UNMODELLED:
            assert not rows[:, header.index(name)].any(), f"{name} is not modelled: all zero"
        weights_only = rows[:, 1:53]
        assert weights_only.min() >= 0.0 and weights_only.max() <= 1.0
        repeats = np.all(rows[1:, 1:] == rows[:-1, 1:], axis=1)  # (N - 1,)
        assert repeats.mean() < 0.1, "resampled, not repeated"


def test_the_json_is_audio2face_shaped_and_holds_the_same_track(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    weights, wav = inputs
    csv_path, json_path = tmp_path / "m.csv", tmp_path / "m.json"
    for out in (csv_path, json_path):
        assert (
            main(["motion", str(wav), "-o", str(out), "--fps", "40", "--weights", str(weights)])
            == 0
        )
    header, rows = read_csv(csv_path)
    document = json.loads(json_path.read_text())
    assert document["exportFps"] == 40 and document["numPoses"] == 52
    assert document["facsNames"] == list(ARKIT_BLENDSHAPES)
    assert document["numFrames"] == len(document["weightMat"]) == len(rows)
    np.testing.assert_allclose(np.array(document["weightMat"]), rows[:, 1:53], atol=1e-4)
    np.testing.assert_allclose(np.array(document["head"]), rows[:, 53:59], atol=1e-4)
    assert document["headNames"] == list(HEAD_COLUMNS)


def test_render_writes_the_video_s_motion_and_without_o_decodes_nothing(
    inputs: tuple[Path, Path], astronaut: str, tmp_path: Path
) -> None:
    weights, wav = inputs
    portrait = astronaut
    common = ["--weights", str(weights), "--fps", "25", "--seed", "3", "--no-progress"]
    video, with_video, alone = tmp_path / "a.mp4", tmp_path / "a.csv", tmp_path / "b.csv"
    assert (
        main(
            [
                "render",
                portrait,
                str(wav),
                "-o",
                str(video),
                "--blendshapes",
                str(with_video),
                *common,
            ]
        )
        == 0
    )
    assert main(["render", portrait, str(wav), "--blendshapes", str(alone), *common]) == 0
    with av.open(str(video)) as container:
        frames = container.streams.video[0].frames
    header, rows = read_csv(with_video)
    assert len(rows) == math.ceil(SECONDS * 25) and abs(frames - len(rows)) <= 1
    _, rows_alone = read_csv(alone)
    np.testing.assert_array_equal(rows, rows_alone)
    assert not (tmp_path / "b.mp4").exists()


def test_bad_names_and_rates_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"\.csv or \.json"):
        check_path(tmp_path / "out.txt")
    with pytest.raises(EngineError, match="rate"):
        BlendshapeTrack.from_motion(np.zeros((5, ms.MOTION_DIM), np.float32), 25, 24)
    assert main(["motion", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o.xml")]) == 2


def test_resampling_interpolates_angles_and_gaze_maps_to_the_eye_look_shapes() -> None:
    motion = np.zeros((25, ms.MOTION_DIM), np.float32)
    motion[:, ms.INDEX["yaw"]] = np.linspace(0.0, 0.24, 25)  # a steady turn over one second
    motion[:, ms.INDEX["eyeLookX"]] = 0.5  # towards image right: the subject's left
    motion[:, ms.INDEX["eyeLookY"]] = -0.25  # up
    rows = to_blendshapes(resample(motion, 25, 60, 1.0))
    columns = [*ARKIT_BLENDSHAPES, *HEAD_COLUMNS, *GAZE_COLUMNS]
    yaw = rows[:, columns.index("headYaw_deg")]
    assert len(rows) == 60
    steps = np.diff(yaw[3:-3])  # away from the held edges
    np.testing.assert_allclose(steps, np.degrees(0.01) * 25 / 60, rtol=1e-3)
    row = dict(zip(columns, rows[30], strict=True))
    assert row["eyeLookOutLeft"] == row["eyeLookInRight"] == pytest.approx(0.5)
    assert row["eyeLookInLeft"] == row["eyeLookOutRight"] == 0.0
    assert row["eyeLookUpLeft"] == row["eyeLookUpRight"] == pytest.approx(0.25)
    assert row["gazeX"] == pytest.approx(0.5)


# --- the trained model on real speech --------------------------------------------------------

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech" / "jfk.flac"
VIDEO_FPS = 25
MAX_LAG_FRAMES = 2  # both measures may lead or lag the envelope a little


@pytest.fixture(scope="module")
def trained() -> Iterator[MotionModel]:
    from engine.motion.clip import load_motion_model

    if not SPEECH.is_file():
        pytest.skip(f"{SPEECH} is not here")
    try:
        yield load_motion_model()
    except EngineError as exc:
        pytest.skip(f"trained motion weights are not here: {exc}")


def envelope(path: Path, fps: int, frames: int) -> np.ndarray:
    """RMS of the speech in each frame's interval."""
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    hop = rate / fps
    return np.array(
        [np.sqrt(np.mean(mono[int(k * hop) : int((k + 1) * hop)] ** 2)) for k in range(frames)]
    )


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (silence holds jawOpen at exactly 0 for many frames)."""
    order = np.argsort(values, kind="stable")
    ordinal = np.empty(len(values))
    ordinal[order] = np.arange(len(values))
    _, tie_group = np.unique(values, return_inverse=True)
    return (np.bincount(tie_group, ordinal) / np.bincount(tie_group))[tie_group]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def best_rank_correlation(series: np.ndarray, env: np.ndarray) -> float:
    """Spearman correlation at the best lag within MAX_LAG_FRAMES: rank correlation compares
    a coefficient and a pixel measure without favouring either one's scale."""
    best = -1.0
    for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1):
        a, b = (series[lag:], env[: len(env) - lag]) if lag >= 0 else (series[:lag], env[-lag:])
        best = max(best, spearman(a, b))
    return best


def test_jaw_open_follows_the_speech_envelope_at_least_as_well_as_the_video_mouth(
    trained: MotionModel, astronaut: str, tmp_path: Path
) -> None:
    from tests.server_harness import mouth_openings

    clip = tmp_path / "jfk6.wav"
    audio, rate = soundfile.read(SPEECH, dtype="float32", always_2d=True)
    soundfile.write(clip, audio[: 6 * rate], rate)
    video, track = tmp_path / "jfk.mp4", tmp_path / "jfk.csv"
    argv = ["render", astronaut, str(clip), "-o", str(video)]
    assert main([*argv, "--blendshapes", str(track), "--fps", str(VIDEO_FPS), "--no-progress"]) == 0
    with av.open(str(video)) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    openings = np.array(mouth_openings(pictures))
    header, rows = read_csv(track)
    assert len(openings) == len(pictures) == len(rows), "a face in every frame, one row each"
    env = envelope(clip, VIDEO_FPS, len(rows))
    jaw = best_rank_correlation(rows[:, header.index("jawOpen")], env)
    mouth = best_rank_correlation(openings, env)
    print(f"speech envelope vs jawOpen {jaw:.3f}, vs the video's mouth opening {mouth:.3f}")
    assert jaw > 0.5 and jaw >= mouth, (jaw, mouth)


def test_blinks_are_eye_blink_pulses(trained: MotionModel) -> None:
    from engine.motion.blendshape_clip import clip_blendshapes

    track = clip_blendshapes(SPEECH, 60, model=trained)
    left, right = track.column("eyeBlinkLeft"), track.column("eyeBlinkRight")
    closed = left > 0.5
    onsets = np.flatnonzero(closed[1:] & ~closed[:-1]) + 1
    offsets = np.flatnonzero(~closed[1:] & closed[:-1]) + 1
    assert len(onsets) >= 2, "about 20 blinks a minute: several in 11 s"
    widths_s = (offsets[: len(onsets)] - onsets[: len(offsets)]) / 60
    assert widths_s.max() < 0.3, "a blink is a pulse, not a closed eye"
    assert np.median(left) < 0.1, "open between blinks"
    np.testing.assert_allclose(left, right, atol=0.15)


def test_each_emotion_moves_its_own_coefficients(trained: MotionModel, tmp_path: Path) -> None:
    from engine.contract import Controls
    from engine.motion.blendshape_clip import clip_blendshapes

    signature = {
        "happy": "mouthSmileLeft",
        "sad": "mouthFrownLeft",
        "angry": "browDownLeft",
        "surprised": "eyeWideLeft",
    }
    clip = tmp_path / "jfk4.wav"
    audio, rate = soundfile.read(SPEECH, dtype="float32", always_2d=True)
    soundfile.write(clip, audio[: 4 * rate], rate)
    neutral = clip_blendshapes(clip, 25, model=trained)
    for emotion, own in signature.items():
        controls = Controls(emotion=emotion, emotion_intensity=1.0)
        track = clip_blendshapes(clip, 25, controls=controls, model=trained)
        means = {name: float(track.column(name).mean()) for name in signature.values()}
        assert means[own] > float(neutral.column(own).mean()) + 0.25, (emotion, means)
        others = [v for name, v in means.items() if name != own]
        assert max(others) < 0.15, (emotion, means)
