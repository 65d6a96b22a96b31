"""Motion model: streaming equals whole-clip, seeded sampling, training, checkpoints, ONNX parity.

Hermetic and small: an untrained (randomly initialised) S model and a few synthetic shards made
here (noise bursts whose envelope drives jawOpen), so nothing depends on committed weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.motion.clip import generate_motion
from engine.motion.features import AudioFeatureStream, clip_features
from engine.motion.profiles import PROFILES, get_profile
from engine.motion.sampler import MotionStream
from models import motion_space
from models.motion_checkpoint import (
    MotionModel,
    load_inference_checkpoint,
    save_inference_checkpoint,
)
from models.motion_data import SAMPLES_PER_MOTION_FRAME, Shard, load_shard, save_shard
from models.train_motion import TrainConfig, mel_margins

torch.set_num_threads(1)


def random_model(seed: int = 0) -> MotionModel:
    """An S model whose zero-initialised output layers are randomised, so outputs vary."""
    torch.manual_seed(seed)
    model = MotionModel.from_preset("S").eval()
    with torch.no_grad():
        for name, parameter in model.dit.named_parameters():
            if "ada" in name or "head" in name:
                parameter.normal_(std=0.05)
    return model


def speech_like_audio(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n_samples = int(seconds * 16_000)
    frames = -(-n_samples // SAMPLES_PER_MOTION_FRAME)
    envelope = np.convolve(rng.random(frames) > 0.5, np.ones(4) / 4, mode="same")
    carrier = np.sin(2 * np.pi * 160 * np.arange(n_samples) / 16_000)
    carrier += 0.3 * rng.standard_normal(n_samples)
    audio = 0.3 * np.repeat(envelope, SAMPLES_PER_MOTION_FRAME)[:n_samples] * carrier
    return audio.astype(np.float32)


def write_cli_inputs(
    folder: Path, seconds: float, seed: int, rate_hz: int = 22_050
) -> tuple[Path, Path]:
    """(random motion checkpoint, stereo speech-like wav at rate_hz) written into folder: what
    the render and blendshape CLI tests feed `gioconda`, hermetically."""
    import soundfile
    import soxr

    weights = folder / "motion.pt"
    save_inference_checkpoint(weights, random_model(), "S", {"note": "random, for tests"})
    audio = soxr.resample(speech_like_audio(seconds, seed=seed), 16_000, rate_hz)
    wav = folder / "speech.wav"
    soundfile.write(wav, np.stack([audio, 0.5 * audio], axis=1), rate_hz)
    return weights, wav


def write_shards(folder: Path, count: int, seconds: float = 4.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        audio = speech_like_audio(seconds, seed=i)
        frames = -(-len(audio) // SAMPLES_PER_MOTION_FRAME)
        padded = np.pad(np.abs(audio), (0, frames * SAMPLES_PER_MOTION_FRAME - len(audio)))
        loudness = padded.reshape(frames, -1).mean(axis=1)  # (T,)
        motion = np.tile(motion_space.NEUTRAL, (frames, 1))
        motion[:, motion_space.INDEX["jawOpen"]] = np.clip(loudness * 6.0, 0.0, 1.0)
        shard = Shard((audio * 32767).astype(np.int16), motion.astype(np.float32), emotion=i % 5)
        save_shard(folder / f"clip_{i:03d}.npz", shard)


def stream_in_chunks(
    model: MotionModel,
    audio: np.ndarray,
    seed: int,
    profile: str,
    rng: np.random.Generator,
    eta: float | None = None,
) -> np.ndarray:
    features = AudioFeatureStream(model.log_mel, model.encoder)
    motion = MotionStream(model, get_profile(profile), seed=seed, eta=eta)
    out, start = [], 0
    while start < len(audio):
        size = int(rng.integers(1, 4000))
        out.append(motion.push_features(features.push(audio[start : start + size])))
        start += size
    out.append(motion.push_features(features.flush()))
    out.append(motion.flush())
    return np.concatenate(out)


def test_streaming_features_equal_whole_clip_features() -> None:
    model = random_model()
    audio = speech_like_audio(2.3, seed=1)
    whole = clip_features(model.log_mel, model.encoder, audio)
    rng = np.random.default_rng(0)
    for _ in range(3):
        stream = AudioFeatureStream(model.log_mel, model.encoder)
        chunks, start = [], 0
        while start < len(audio):
            size = int(rng.integers(1, 2500))
            chunks.append(stream.push(audio[start : start + size]))
            start += size
        chunks.append(stream.flush())
        streamed = np.concatenate(chunks)
        assert streamed.shape == whole.shape == (2 * -(-len(audio) // 640), 96)
        np.testing.assert_allclose(streamed, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("profile", "eta"), [(p, None) for p in sorted(PROFILES)] + [("quality", 1.0)]
)
def test_streaming_sampler_equals_offline_for_fixed_seed(profile: str, eta: float | None) -> None:
    model = random_model()
    audio = speech_like_audio(1.7, seed=2)
    offline = generate_motion(audio, seed=5, profile=profile, eta=eta, model=model)
    streamed = stream_in_chunks(model, audio, 5, profile, np.random.default_rng(3), eta)
    assert offline.shape == (-(-len(audio) // 640), motion_space.MOTION_DIM)
    np.testing.assert_allclose(streamed, offline, atol=1e-4)


def test_seed_reproduces_and_different_seeds_differ() -> None:
    model = random_model()
    audio = speech_like_audio(1.0, seed=4)
    first = generate_motion(audio, seed=11, model=model)
    again = generate_motion(audio, seed=11, model=model)
    other = generate_motion(audio, seed=12, model=model)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_motion_stays_in_field_ranges() -> None:
    motion = generate_motion(speech_like_audio(1.0, seed=5), model=random_model())
    assert np.all(motion >= motion_space.LOW) and np.all(motion <= motion_space.HIGH)


def test_a_few_training_steps_lower_the_loss(tmp_path: Path) -> None:
    from models.train_motion import TrainConfig, train

    write_shards(tmp_path / "shards", count=6)
    config = TrainConfig(
        steps=60, batch_size=16, warmup_steps=5, val_every=30, val_batches=2, learning_rate=2e-3
    )
    state = train([tmp_path / "shards"], tmp_path / "run", config)
    losses = [record["val_loss"] for record in state.history]
    assert len(losses) == 2 and losses[-1] < losses[0]
    assert (tmp_path / "run" / "best.pt").exists()
    resumed = train(
        [tmp_path / "shards"],
        tmp_path / "run",
        TrainConfig(**{**config.__dict__, "steps": 65}),
        resume=True,
    )
    assert resumed.step == 65


def test_video_shards_train_only_their_measured_fields(tmp_path: Path) -> None:
    """A tracked video measures pose, jaw, eyes and gaze only; its other fields (held at neutral
    by the landmark fit) and its emotion fields (the emotion is unknown) carry no loss."""
    from models.train_motion import load_corpus, sample_batch, window_loss

    write_shards(tmp_path / "shards", count=1)
    path = tmp_path / "shards" / "clip_000.npz"
    shard = load_shard(path)
    meta = {"source": "video", "measured_fields": ["yaw", "jawOpen", "mouthSmileLeft"]}
    save_shard(path, Shard(shard.audio_16k, shard.motion, meta=meta))
    model = random_model()
    corpus = load_corpus([path], model)
    weights = corpus.clips[0].field_weights
    assert weights is not None
    assert weights[motion_space.INDEX["jawOpen"]] == 1 and weights[motion_space.INDEX["yaw"]] == 1
    assert weights[motion_space.INDEX["mouthSmileLeft"]] == 0  # emotion unknown
    assert float(weights.sum()) == 2.0

    # A batch of it carries the weights; a corpus of synthetic shards carries none.
    batch = sample_batch(corpus, np.random.default_rng(0), 4, 4, 4, 2, *mel_margins(model))
    assert batch.field_weights is not None and torch.equal(batch.field_weights[0], weights)
    loss = window_loss(model, batch, TrainConfig(), torch.Generator().manual_seed(0), False)
    assert torch.isfinite(loss)
    write_shards(tmp_path / "synth", count=1)
    synthetic = load_corpus([tmp_path / "synth" / "clip_000.npz"], model)
    assert synthetic.clips[0].field_weights is None


def test_fine_tuning_starts_from_the_checkpoint_and_keeps_its_normalisation(
    tmp_path: Path,
) -> None:
    from models.motion_checkpoint import CheckpointError
    from models.train_motion import TrainConfig, train

    write_shards(tmp_path / "shards", count=4)
    base = random_model(seed=3)
    with torch.no_grad():
        base.dit.motion_mean.fill_(0.25)
    save_inference_checkpoint(tmp_path / "base.pt", base, "S", {"step": 0})
    config = TrainConfig(steps=4, batch_size=8, warmup_steps=1, val_every=2, val_batches=1)
    train([tmp_path / "shards"], tmp_path / "run", config, init=tmp_path / "base.pt")
    tuned, _ = load_inference_checkpoint(tmp_path / "run" / "best.pt")
    assert torch.allclose(tuned.dit.motion_mean, torch.full_like(tuned.dit.motion_mean, 0.25))
    with pytest.raises(CheckpointError, match="not B"):
        train(
            [tmp_path / "shards"],
            tmp_path / "run_b",
            TrainConfig(preset="B", steps=1),
            init=tmp_path / "base.pt",
        )


def test_fine_tuning_from_a_missing_or_foreign_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.cli import main

    write_shards(tmp_path / "shards", count=2)
    foreign = tmp_path / "notes.pt"
    foreign.write_text("not a checkpoint")
    argv = ["train", "motion", "--data", str(tmp_path / "shards"), "--out", str(tmp_path / "run")]
    assert main([*argv, "--init", str(tmp_path / "absent.pt")]) == 2
    assert "weights not found" in capsys.readouterr().err
    assert main([*argv, "--init", str(foreign)]) == 2
    assert "not a gioconda-motion/1 checkpoint" in capsys.readouterr().err
    save_inference_checkpoint(tmp_path / "s.pt", random_model(), "S", {"step": 0})
    assert main([*argv, "--init", str(tmp_path / "s.pt"), "--preset", "B"]) == 2
    assert "is preset S, not B" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = random_model()
    path = tmp_path / "motion.pt"
    save_inference_checkpoint(path, model, "S", {"step": 3})
    loaded, meta = load_inference_checkpoint(path)
    assert meta["summary"]["step"] == 3
    assert meta["motion_space_version"] == motion_space.MOTION_SPACE_VERSION
    audio = speech_like_audio(0.8, seed=6)
    # Weights are stored as fp16: the loaded model is the fp16-rounded original.
    expected = generate_motion(audio, seed=1, model=loaded)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
    np.testing.assert_allclose(generate_motion(audio, seed=1, model=model), expected, atol=1e-5)


def test_onnx_export_matches_torch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from engine.tools.onnx_motion import check_parity
    from models.export_motion import export_motion

    model = random_model()
    paths = export_motion(model, tmp_path)
    errors = check_parity(model, paths, batch_size=3)
    # Tolerances: fp32 graphs, differences come from operator ordering only.
    assert errors["audio_encoder"] < 1e-4
    assert errors["denoiser"] < 1e-4


def test_feature_stream_refuses_bad_audio_clearly() -> None:
    from engine.errors import AudioError

    model = random_model()
    stream = AudioFeatureStream(model.log_mel, model.encoder)
    with pytest.raises(AudioError, match="NaN"):
        stream.push(np.array([0.0, np.nan], dtype=np.float32))
    with pytest.raises(AudioError, match="float32"):
        stream.push(np.zeros(10, dtype=np.int16))
    assert stream.flush().shape == (0, 96)  # nothing pushed: no features, no motion frames
    assert stream.flush().shape == (0, 96)  # a second flush is harmless


def test_stream_blinks_at_about_the_profile_rate() -> None:
    """Regression: the trained S model averaged blinks away (0 per minute); the stream adds them."""
    from engine.tools import motion_eval

    silence = np.zeros(30 * 16_000, dtype=np.float32)
    motion = generate_motion(silence, seed=3, model=random_model())
    rate = motion_eval.blink_rate_per_min(motion)
    assert 6.0 <= rate <= 30.0, rate


def test_blink_schedule_keeps_short_clips_inside_the_human_range() -> None:
    """Regression: exponential blink waits left lj050 (7.7 s) with one blink, 7.8 per minute,
    under the 8-30 a talker shows; bounded intervals keep every seed inside the range."""
    from engine.motion.sampler import BlinkSchedule
    from engine.tools import motion_eval

    rate = get_profile("low-latency").blinks_per_min
    for seconds in (7.7, 12.0, 60.0):
        frames = round(seconds * motion_space.MOTION_RATE_HZ)
        neutral = np.tile(motion_space.NEUTRAL, (frames, 1)).astype(np.float32)
        rates = []
        for seed in range(40):
            schedule = BlinkSchedule(rate, seed)
            motion = np.concatenate(
                [schedule.apply(neutral[i : i + 2], i) for i in range(0, frames, 2)]
            )
            rates.append(motion_eval.blink_rate_per_min(motion))
        assert 8.0 <= min(rates) and max(rates) <= 30.0, (seconds, min(rates), max(rates))
    long_run = np.mean(rates)  # 60 s clips: the profile's rate on average
    assert abs(long_run - rate) < 3.0, long_run


def test_bench_motion_measures_the_session_path_and_the_chunked_one() -> None:
    """`gioconda bench motion` feeds audio per window as a session's pipeline does (round 1
    timed 20 ms pushes, one encoder call each, which no session makes); both feeds stay
    available and sample every window of the audio."""
    from engine.bench.motion import bench_motion

    model, profile = random_model(), get_profile("low-latency")
    session = bench_motion(model, profile, 2.0, "random", backend="torch-cpu")
    chunked = bench_motion(model, profile, 2.0, "random", backend="torch-cpu", chunk_ms=20)
    for result in (session, chunked):
        assert result.windows >= 2.0 * motion_space.MOTION_RATE_HZ / profile.window_frames - 2
        assert result.core_fraction > 0 and "of one core" in "\n".join(result.lines())
    assert "per window" in session.feed and "20 ms" in chunked.feed


def test_soft_phrases_quieten_stretches_of_synthetic_speech_only(tmp_path: Path) -> None:
    """Training aid for the bug where a real speaker's soft voiced stretch (lj050-0131, 4.9-5.6 s)
    left the mouth shut: espeak speaks at one level, so some training clips get soft stretches
    under unchanged mouth targets."""
    from models.train_motion import load_corpus, soften_phrases

    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(16_000 * 8)).astype(np.float32)
    soft = soften_phrases(audio, np.random.default_rng(1))
    assert soft.shape == audio.shape and np.all(np.abs(soft) <= np.abs(audio) + 1e-6)
    level_db = 10 * np.log10(
        (soft.reshape(-1, 1600) ** 2).mean(axis=1) / (audio.reshape(-1, 1600) ** 2).mean(axis=1)
    )  # per 100 ms
    assert level_db.min() < -5.0 and level_db.max() > -0.5  # soft stretches and full ones

    write_shards(tmp_path / "synth", count=1)
    path = tmp_path / "synth" / "clip_000.npz"
    model = random_model()
    plain = load_corpus([path], model).clips[0]
    softened = load_corpus([path], model, soft_phrase_p=1.0).clips[0]
    assert not torch.equal(plain.log_mel, softened.log_mel)
    assert torch.equal(plain.motion, softened.motion)  # the targets stay the clean speech's
