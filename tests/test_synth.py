"""The synthetic motion corpus: speech with phoneme timings -> plausible, smooth motion shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.tools.motion_eval import lip_gap
from models import motion_space
from models.motion_data import SAMPLES_PER_MOTION_FRAME, list_shards, load_shard
from models.synth import expression, mouth, prosody
from models.synth.corpus import synth_clip, synthesize_corpus
from models.synth.espeak import ESPEAK_RATE_HZ, Voice, synthesize

JAW = motion_space.INDEX["jawOpen"]
FRAME_S = 1.0 / motion_space.MOTION_RATE_HZ


def _frames_of(phonemes: list[tuple[str, float]], symbols: set[str]) -> list[int]:
    """Frame indices at the centre of each phoneme whose mnemonic is in `symbols`."""
    out = []
    for (name, start_s), (_, end_s) in zip(phonemes, phonemes[1:], strict=False):
        if name in symbols:
            out.append(int((start_s + end_s) / 2 / FRAME_S))
    return out


def test_espeak_returns_audio_and_ordered_phonemes() -> None:
    utterance = synthesize("Mama, papa.", Voice("en-us"))
    assert utterance.samples_22k.dtype == np.int16
    assert len(utterance.samples_22k) > 0.5 * ESPEAK_RATE_HZ
    names = [name for name, _ in utterance.phonemes]
    assert "m" in names and "p" in names
    starts = [start for _, start in utterance.phonemes]
    assert starts == sorted(starts)
    assert starts[-1] < len(utterance.samples_22k) / ESPEAK_RATE_HZ + 0.1


def _lip_gap(track: np.ndarray) -> np.ndarray:
    motion = np.tile(motion_space.neutral_frame(), (len(track), 1))
    mouth.write_mouth(motion, track)
    return lip_gap(motion)


def test_bilabials_close_the_lips_and_open_vowels_open_the_mouth() -> None:
    utterance = synthesize("Bob saw a pop star, mama.", Voice("en-us", rate_wpm=140))
    num_frames = int(np.ceil(len(utterance.samples_22k) / ESPEAK_RATE_HZ / FRAME_S))
    gap = _lip_gap(mouth.mouth_track(utterance.phonemes, num_frames))
    closed = _frames_of(utterance.phonemes, {"b", "p", "m"})[1:]  # the first b is the onset
    opened = _frames_of(utterance.phonemes, {"a", "A:", "0", "O:", "aI", "A@"})
    assert closed and opened
    assert np.median([gap[t] for t in closed]) < 0.03  # the lips meet (the eval's "shut")
    assert min(gap[t] for t in opened) > 0.15


def test_the_jaw_holds_open_through_a_phrase() -> None:
    """Issue 17: the mouth snapped shut between syllables. Inside a phrase without bilabials the
    lips stay apart on every frame; a pause of at least PHRASE_GAP_S closes them."""
    utterance = synthesize(
        "So I told her the rules, and then I left.", Voice("en-us", rate_wpm=140)
    )
    num_frames = int(np.ceil(len(utterance.samples_22k) / ESPEAK_RATE_HZ / FRAME_S))
    gap = _lip_gap(mouth.mouth_track(utterance.phonemes, num_frames))
    speech = [t for t in _frames_of(utterance.phonemes, {"s", "oU", "aI", "t", "r", "u:"})]
    assert min(gap[t] for t in speech[1:]) > 0.05
    pauses = []  # runs of silence phonemes inside the clip, from start to the next sound
    for k, (name, start) in enumerate(utterance.phonemes):
        following = [s for n, s in utterance.phonemes[k:] if not n.startswith("_")]
        if name.startswith("_") and following and following[0] - start >= 0.2:
            pauses.append((start, following[0]))
    assert pauses
    for start, end in pauses:
        assert gap[int((start + end) / 2 / FRAME_S)] < 0.03


def test_louder_phrases_open_the_jaw_further() -> None:
    utterance = synthesize("Father saw a large car.", Voice("en-us"))
    num_frames = int(np.ceil(len(utterance.samples_22k) / ESPEAK_RATE_HZ / FRAME_S))
    quiet = mouth.mouth_track(
        utterance.phonemes, num_frames, loudness_db=np.full(num_frames, -25.0)
    )
    loud = mouth.mouth_track(utterance.phonemes, num_frames, loudness_db=np.zeros(num_frames))
    assert loud[:, 0].max() > 1.3 * quiet[:, 0].max()


def test_mouth_is_closed_in_silence() -> None:
    phonemes = [("_", 0.0), ("h", 1.0), ("a", 1.05), ("_", 1.3)]
    track = mouth.mouth_track(phonemes, num_frames=75)  # 3 s
    jaw = track[:, 0]
    assert jaw[:20].max() < 0.1  # 0-0.8 s: long silence before speech
    assert jaw[45:].max() < 0.1  # 1.8 s onwards
    assert jaw[25:33].max() > 0.4


def test_blink_rate_is_plausible() -> None:
    rng = np.random.default_rng(3)
    num_frames = 10 * 60 * motion_space.MOTION_RATE_HZ  # ten minutes
    blinks = expression.blink_track(num_frames, rng, rate_per_min=15.0)
    onsets = np.count_nonzero((blinks[1:] > 0.5) & (blinks[:-1] <= 0.5))
    assert 8 * 10 <= onsets <= 30 * 10


def test_f0_tracker_finds_a_tone() -> None:
    time_s = np.arange(16_000) / 16_000
    tone = 0.5 * np.sin(2 * np.pi * 150.0 * time_s)
    analysis = prosody.analyse(tone, num_frames=25)
    voiced = analysis.f0_hz[3:-3]
    assert np.all(np.abs(voiced - 150.0) < 5.0)


def test_synth_clip_is_a_valid_smooth_shard(tmp_path: Path) -> None:
    shard = synth_clip(seed=11, index=0, babble_pool=[])
    shard.validate()
    motion = shard.motion
    assert len(motion) == -(-len(shard.audio_16k) // SAMPLES_PER_MOTION_FRAME)
    assert 7.0 <= len(shard.audio_16k) / 16_000 <= 25.0
    assert np.all(motion >= motion_space.LOW) and np.all(motion <= motion_space.HIGH)
    mouth_columns = [motion_space.INDEX[name] for name in mouth.MOUTH_FIELDS]
    assert np.abs(np.diff(motion[:, mouth_columns], axis=0)).max() < 0.45
    pose_step_deg = np.degrees(np.abs(np.diff(motion[:, :3], axis=0))).mean()
    assert 0.05 < pose_step_deg < 1.0
    assert motion[:, JAW].max() > 0.4
    assert shard.meta["source"] == "synth"


def test_silence_frames_have_closed_mouth() -> None:
    shard = synth_clip(seed=5, index=1, babble_pool=[])
    clean_frames = int(0.2 * motion_space.MOTION_RATE_HZ)  # clips start with >= 0.2 s silence
    assert shard.motion[: clean_frames - 2, JAW].max() < 0.1


def test_corpus_writes_loadable_shards_and_resumes(tmp_path: Path) -> None:
    seconds: list[float] = []
    summary = synthesize_corpus(10.0 / 3600, tmp_path, seed=2, progress=seconds.append)
    assert summary.seconds >= 10.0 and summary.clips == len(seconds) >= 1
    paths = list_shards(tmp_path)
    assert len(paths) == summary.clips
    shard = load_shard(paths[0])
    assert shard.audio_16k.dtype == np.int16
    again = synthesize_corpus(10.0 / 3600, tmp_path, seed=2)
    assert again.reused_clips == summary.clips


@pytest.mark.parametrize("emotion", ["happy", "sad", "angry", "surprised"])
def test_emotion_offsets_move_their_fields(emotion: str) -> None:
    offsets = expression.emotion_offsets(emotion, 1.0, 50, np.random.default_rng(0))
    assert offsets.max() > 0.3
    neutral = expression.emotion_offsets("neutral", 1.0, 50, np.random.default_rng(0))
    assert not neutral.any()
