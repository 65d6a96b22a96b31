"""Loudness normalisation in the audio front end: quiet speech drives the model like loud speech.

Regression for issue 17: a quiet Mandarin recording barely moved the mouth, because the features
(log-mel) of quiet speech sit far below those of the loud speech the model learned from.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.motion.features import AudioFeatureStream, clip_features
from models.audio_features import (
    HOP_SAMPLES,
    LOUDNESS_MAX_GAIN_DB,
    LOUDNESS_TARGET_DBFS,
    LoudnessNormalizer,
    normalize_loudness,
)
from models.motion_checkpoint import MotionModel

RATE_HZ = 16_000


def _speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced carrier under a syllable-rate envelope, with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    frames = -(-n // 640)
    envelope = np.convolve(rng.random(frames) > 0.4, np.ones(4) / 4, mode="same")
    envelope[frames // 2 : frames // 2 + 20] = 0.0  # an 0.8 s pause
    carrier = np.sin(2 * np.pi * 140 * np.arange(n) / RATE_HZ) + 0.3 * rng.standard_normal(n)
    return (0.25 * np.repeat(envelope, 640)[:n] * carrier).astype(np.float32)


def _level_dbfs(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio.astype(np.float64) ** 2) + 1e-20))


def test_quiet_and_loud_recordings_give_the_same_features() -> None:
    torch.manual_seed(0)
    model = MotionModel.from_preset("S").eval()
    loud = _speech_like(4.0)
    quiet = (loud * 10 ** (-24 / 20)).astype(np.float32)  # the same speech 24 dB down
    loud_features = clip_features(model.log_mel, model.encoder, loud)
    quiet_features = clip_features(model.log_mel, model.encoder, quiet)
    # Once the first syllables have set the level (the first faint onset of the quiet clip hits
    # the gain ceiling), the features are the same.
    np.testing.assert_allclose(quiet_features[50:], loud_features[50:], atol=2e-3)
    # Without the normaliser the two differ by far more than that (what the model used to see).
    with torch.no_grad():
        raw = [model.log_mel(torch.from_numpy(a[: 640 * 50])[None]) for a in (loud, quiet)]
    assert float((raw[0] - raw[1]).abs().mean()) > 0.5


def test_speech_level_lands_on_the_target_and_pauses_stay_below_it() -> None:
    speech = _speech_like(6.0, seed=1)
    for scale_db in (-30.0, -10.0, 6.0):  # speech peaks at -44, -24 and -8 dBFS
        audio = (speech * 10 ** (scale_db / 20)).astype(np.float32)
        out = normalize_loudness(audio)[RATE_HZ : len(audio)]  # after the first second
        blocks = out[: len(out) // HOP_SAMPLES * HOP_SAMPLES].reshape(-1, HOP_SAMPLES)
        levels = 10 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=1) + 1e-20)
        # The loudest 20 ms block sits 0-3 dB above the target (the tracker reads a block 3 dB
        # down or the 100 ms level, whichever is higher); the pause is far below it.
        assert LOUDNESS_TARGET_DBFS - 0.5 < levels.max() < LOUDNESS_TARGET_DBFS + 3.5
        assert np.median(levels) < LOUDNESS_TARGET_DBFS
    # Digital silence stays silent; faint noise alone is raised by at most the gain ceiling.
    assert not normalize_loudness(np.zeros(RATE_HZ, np.float32)).any()
    noise = (1e-4 * np.random.default_rng(2).standard_normal(RATE_HZ)).astype(np.float32)
    raised = _level_dbfs(normalize_loudness(noise)) - _level_dbfs(noise)
    assert raised <= LOUDNESS_MAX_GAIN_DB + 0.01


def test_normaliser_is_causal_and_chunking_does_not_matter() -> None:
    audio = _speech_like(3.0, seed=3)
    whole = normalize_loudness(audio)
    rng = np.random.default_rng(0)
    normalizer, pieces, start = LoudnessNormalizer(), [], 0
    while start < len(audio):
        size = int(rng.integers(1, 3000))
        pieces.append(normalizer.process(audio[start : start + size]))
        start += size
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(audio) // HOP_SAMPLES * HOP_SAMPLES
    np.testing.assert_allclose(streamed, whole[: len(streamed)], atol=1e-7)
    # A loud burst later in the clip does not change anything before it.
    later = audio.copy()
    later[2 * RATE_HZ :] *= 20.0
    np.testing.assert_array_equal(normalize_loudness(later)[: 2 * RATE_HZ], whole[: 2 * RATE_HZ])


def test_stream_emits_features_as_soon_as_before() -> None:
    """The normaliser holds back only the hop still arriving, which the log-mel waits for anyway:
    every push emits as many features as the stream without a normaliser does."""

    class Identity:
        def process(self, chunk: np.ndarray) -> np.ndarray:
            return chunk

    torch.manual_seed(0)
    model = MotionModel.from_preset("S").eval()
    normalised = AudioFeatureStream(model.log_mel, model.encoder)
    plain = AudioFeatureStream(model.log_mel, model.encoder)
    plain._loudness = Identity()  # type: ignore[assignment]
    audio = _speech_like(1.5)
    counts = []
    for start in range(0, len(audio), 100):  # 100-sample chunks: hops complete mid-chunk
        chunk = audio[start : start + 100]
        counts.append((len(normalised.push(chunk)), len(plain.push(chunk))))
    counts.append((len(normalised.flush()), len(plain.flush())))
    assert all(a == b for a, b in counts)
    assert sum(a for a, _ in counts) == 2 * -(-len(audio) // 640)
