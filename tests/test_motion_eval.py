"""Motion-model metrics: each recovers what a constructed input puts in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from engine.tools import motion_eval as me
from models import motion_space
from models.motion_data import SAMPLES_PER_MOTION_FRAME

FIELD = motion_space.INDEX
RATE_HZ = 16_000


def _bursts_audio(num_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise whose per-frame amplitude follows a random smooth envelope; returns (audio, env)."""
    rng = np.random.default_rng(seed)
    envelope = np.convolve(rng.random(num_frames + 8), np.ones(5) / 5, "same")[:num_frames]
    envelope = np.where(envelope > 0.45, envelope, 0.0)
    per_sample = np.repeat(envelope, SAMPLES_PER_MOTION_FRAME)
    audio = (per_sample * rng.standard_normal(len(per_sample)) * 0.3).astype(np.float32)
    return audio, envelope


def _motion(num_frames: int) -> np.ndarray:
    return np.tile(motion_space.neutral_frame(), (num_frames, 1))


def test_lip_sync_recovers_a_known_lag() -> None:
    audio, _ = _bursts_audio(500)
    level_db = me.frame_level_db(audio)
    for lag in (-3, 0, 2, 4):
        motion = _motion(500)
        opening = np.clip((level_db + 50.0) / 60.0, 0.0, 1.0)
        motion[:, FIELD["jawOpen"]] = np.roll(opening, lag)  # the mouth follows the sound by `lag`
        r, found = me.lip_sync(motion, audio)
        assert found == lag
        assert r > 0.95


def test_lip_sync_of_unrelated_motion_is_low() -> None:
    audio, _ = _bursts_audio(500, seed=1)
    _, other = _bursts_audio(500, seed=2)
    motion = _motion(500)
    motion[:, FIELD["jawOpen"]] = other
    r, _ = me.lip_sync(motion, audio)
    assert r < 0.4


def test_mouth_closed_fraction_counts_only_silence() -> None:
    audio = np.zeros(100 * SAMPLES_PER_MOTION_FRAME, np.float32)
    rng = np.random.default_rng(0)
    audio[40 * 640 : 60 * 640] = 0.3 * rng.standard_normal(20 * 640)  # speech in frames 40-59
    motion = _motion(100)
    motion[37:63, FIELD["jawOpen"]] = 0.6  # open during speech and its margins
    assert me.closed_in_silence(motion, audio) == 1.0
    motion[:10, FIELD["jawOpen"]] = 0.3  # open in 10 of the 74 silence frames
    assert abs((me.closed_in_silence(motion, audio) or 0.0) - 64 / 74) < 1e-6
    assert me.closed_in_silence(motion, 0.3 * rng.standard_normal(len(audio))) is None


def test_blink_rate() -> None:
    motion = _motion(30 * 25)  # 30 s
    for start in (100, 300, 600):
        motion[start : start + 4, FIELD["eyeBlinkLeft"]] = 1.0
        motion[start : start + 4, FIELD["eyeBlinkRight"]] = 0.9
    assert abs(me.blink_rate_per_min(motion) - 6.0) < 1e-6


def test_head_motion_degrees_per_frame() -> None:
    motion = _motion(50)
    motion[:, FIELD["yaw"]] = np.radians(0.5) * np.arange(50)
    motion[:, FIELD["roll"]] = np.radians(0.1) * np.arange(50)
    assert np.allclose(me.head_motion_deg(motion), [0.5, 0.0, 0.1])


def test_boundary_smoothness_sees_seams() -> None:
    t = np.arange(120)
    smooth = _motion(120)
    smooth[:, FIELD["yaw"]] = 0.1 * np.sin(t / 7.0)
    assert 0.7 < me.boundary_smoothness(smooth, window_frames=4) < 1.3
    seamed = smooth.copy()
    seamed[:, FIELD["jawOpen"]] = 0.2 * ((t // 4) % 2)  # jumps exactly at every window start
    assert me.boundary_smoothness(seamed, window_frames=4) > 5.0


def test_mouth_agreement() -> None:
    audio, envelope = _bursts_audio(200)
    real = _motion(200)
    real[:, FIELD["jawOpen"]] = envelope
    r, distance = me.mouth_agreement(real, real)
    assert r > 0.999 and distance == 0.0
    shifted = real.copy()
    shifted[:, FIELD["jawOpen"]] = np.clip(envelope + 0.1, 0, 1)
    r, distance = me.mouth_agreement(shifted, real)
    assert r > 0.99 and 0.05 < distance < 0.06  # 0.1 jawOpen = 0.055 mouth widths


def _fake_generator(audio: np.ndarray, seed: int, controls: me.EvalControls) -> np.ndarray:
    """Mouth follows the audio; head noise depends on the seed; controls shift their fields."""
    frames = -(-len(audio) // SAMPLES_PER_MOTION_FRAME)
    motion = _motion(frames)
    motion[:, FIELD["jawOpen"]] = np.clip((me.frame_level_db(audio, frames) + 40) / 40, 0, 1)
    motion[:, FIELD["yaw"]] = 0.05 * np.random.default_rng(seed).standard_normal(frames)
    smile = 0.5 * controls.emotion_intensity if controls.emotion == "happy" else 0.0
    motion[:, FIELD["mouthSmileLeft"]] = motion[:, FIELD["mouthSmileRight"]] = smile
    motion[:, FIELD["eyeLookX"]] = controls.gaze[0]
    motion[:, FIELD["scale"]] = controls.head_distance
    return motion


def test_evaluate_builds_the_table() -> None:
    audio, envelope = _bursts_audio(250)
    real = _fake_generator(audio, 3, me.EvalControls())
    rows = me.evaluate(audio, _fake_generator, window_frames=4, real_motion=real)
    table = {row.metric: row for row in rows}
    assert float(table["lip sync r (opening vs audio dB)"].generated) > 0.9
    assert table["same seed max |diff|"].generated == "0.000000"
    assert float(table["seed 0 vs 1 head pose |diff| deg"].generated) > 1.0
    assert abs(float(table["happy: smile minus neutral"].generated) - 0.5) < 1e-6
    assert abs(float(table["gaze x=0.5: eyeLookX shift"].generated) - 0.5) < 1e-6
    assert abs(float(table["head distance 0.2: scale shift"].generated) - 0.2) < 1e-6
    assert float(table["mouth opening r vs real video"].generated) > 0.99
    # The fake's mouth and the "real" one are the same, so both columns agree.
    opening = table["median opening in speech (gap/width)"]
    assert float(opening.generated) > 0.0 and opening.generated == opening.real
    assert table["share of speech shut (gap<0.03)"].target == "<= 0.30"
    text = me.format_table(rows, title="clip")
    assert "lip sync" in text and "real video" in text


def _speech_and_pauses() -> tuple[np.ndarray, np.ndarray]:
    """10 s: loud noise in frames 25-124 and 150-224 (7 s of speech), faint noise elsewhere."""
    rng = np.random.default_rng(4)
    level = np.full(250, 0.002)
    level[25:125] = level[150:225] = 0.2
    audio = (np.repeat(level, SAMPLES_PER_MOTION_FRAME) * rng.standard_normal(250 * 640)).astype(
        np.float32
    )
    return audio, level > 0.1


def test_speech_is_the_200ms_envelope_above_15_percent_of_its_95th_percentile() -> None:
    audio, truth = _speech_and_pauses()
    speech = me.speech_envelope_frames(audio)
    # The 200 ms envelope smears each edge by at most 2 frames; away from edges it is exact.
    assert np.count_nonzero(speech != truth) <= 4 * 2
    assert speech[30:120].all() and speech[155:220].all()
    assert not speech[:20].any() and not speech[230:].any()
    assert not me.speech_envelope_frames(np.zeros(16_000, np.float32)).any()


def test_hiss_in_the_pauses_is_not_speech() -> None:
    """Regression: quiet recordings with steady hiss (21 % of the speech envelope's 95th
    percentile) had their pauses counted as speech, so the closed mouth there read as a 0.5-0.8 s
    shut run; the speech mask is measured above the clip's noise floor."""
    audio, truth = _speech_and_pauses()
    rng = np.random.default_rng(7)
    speech_rms = float(np.sqrt(np.mean(audio[np.repeat(truth, SAMPLES_PER_MOTION_FRAME)] ** 2)))
    for hiss_fraction in (0.25, 0.4):  # hiss RMS over the speech's RMS
        hiss = hiss_fraction * speech_rms * rng.standard_normal(len(audio))
        speech = me.speech_envelope_frames((audio + hiss).astype(np.float32))
        assert np.count_nonzero(speech != truth) <= 4 * 2, hiss_fraction
        assert not speech[:20].any() and not speech[230:].any()
    # Steady noise alone has no speech in it.
    noise = (0.01 * rng.standard_normal(len(audio))).astype(np.float32)
    assert not me.speech_envelope_frames(noise).any()


def test_articulation_measures_recover_known_answers() -> None:
    audio, truth = _speech_and_pauses()
    motion = _motion(250)
    jaw = np.where(truth, 0.4, 0.0)  # open: gap 0.55 * 0.4 = 0.22 mouth widths
    jaw[50:60] = 0.0  # a 0.4 s closure inside the first phrase
    for k in range(160, 220, 10):  # 2-frame bilabial closures in the second phrase
        jaw[k : k + 2] = 0.02  # gap 0.011 < 0.03: shut
    motion[:, FIELD["jawOpen"]] = jaw
    values = me.articulation(motion, audio)
    assert values is not None
    assert abs(values.median_opening - 0.22) < 1e-6
    speech = me.speech_envelope_frames(audio)
    shut = int(np.count_nonzero((jaw < 0.03 / 0.55) & speech))
    assert 10 + 12 <= shut <= 10 + 12 + 4 * 2  # the closures, plus at most the smeared edges
    assert abs(values.shut_share - shut / speech.sum()) < 1e-9
    assert abs(values.longest_shut_s - 0.4) < 1e-9
    # mouthClose takes the gap away only as far as the jaw is open; the lip shapes add to it.
    motion[:, FIELD["mouthClose"]] = 1.0
    closed = me.articulation(motion, audio)
    assert closed is not None and closed.shut_share == 1.0 and closed.median_opening == 0.0
    assert me.articulation(motion, np.zeros(250 * 640, np.float32)) is None


def test_lip_gap_matches_the_estimators_reading_of_tracked_motion() -> None:
    """Tracked video motion carries the re-detected gap as jawOpen = gap / (0.55 * width)."""
    motion = _motion(3)
    motion[:, FIELD["jawOpen"]] = [0.0, 0.1, 0.5]
    assert np.allclose(me.lip_gap(motion), [0.0, 0.055, 0.275])
    motion[:, FIELD["mouthLowerDownLeft"]] = motion[:, FIELD["mouthLowerDownRight"]] = 1.0
    assert np.all(me.lip_gap(motion) > [0.04, 0.095, 0.315])


def test_load_audio_resamples_and_downmixes(tmp_path: Path) -> None:
    path = tmp_path / "stereo_44k.wav"
    time_s = np.arange(44_100) / 44_100
    tone = 0.5 * np.sin(2 * np.pi * 300 * time_s)
    soundfile.write(path, np.stack([tone, tone], axis=1), 44_100)
    audio = me.load_audio_16k(path)
    assert audio.dtype == np.float32 and abs(len(audio) - RATE_HZ) <= 2
    assert 0.45 < np.abs(audio).max() < 0.55


def test_synthetic_shards_have_lip_sync_and_closed_silence() -> None:
    """The synthetic corpus itself passes the metrics the model is judged by."""
    from models.synth.corpus import synth_clip

    shard = synth_clip(seed=4, index=0, babble_pool=[])
    audio = shard.audio_16k.astype(np.float32) / 32768.0
    r, lag = me.lip_sync(shard.motion, audio)
    assert r > 0.3 and abs(lag) <= 3
    closed = me.closed_in_silence(shard.motion, audio)
    assert closed is None or closed > 0.8


def test_summary_line_reports_a_clips_measures() -> None:
    audio, truth = _speech_and_pauses()
    motion = _motion(250)
    motion[:, FIELD["jawOpen"]] = np.where(truth, 0.4, 0.0)
    header, line = me.summary_line(None), me.summary_line("clip.wav", motion, audio)
    assert header.split()[:4] == ["clip", "median", "open", "shut"]
    values = line.split()
    assert values[0] == "clip.wav" and values[1] == "0.220"
    assert float(values[2]) < 0.05  # shut only on the envelope's smeared phrase edges
    assert "no speech found" in me.summary_line("quiet", motion, np.zeros(250 * 640, np.float32))


def test_phoneme_lip_auc_ranks_open_vowels_above_bilabials() -> None:
    phonemes = [("_", 0.0), ("m", 0.2), ("'a", 0.4), ("p", 0.6), ("A:", 0.8), ("b", 1.0),
                ("E", 1.2), ("_", 1.4)]  # fmt: skip
    motion = _motion(40)
    jaw = np.zeros(40)
    for vowel_start in (0.4, 0.8, 1.2):
        first = round(vowel_start * 25)
        jaw[first : first + 5] = 0.5
    motion[:, FIELD["jawOpen"]] = jaw
    result = me.phoneme_lip_auc(motion, phonemes, 1.6)
    assert result == (1.0, 3, 3)
    motion[:, FIELD["jawOpen"]] = 0.5 - jaw  # open on the bilabials, shut on the vowels
    reversed_result = me.phoneme_lip_auc(motion, phonemes, 1.6)
    assert reversed_result is not None and reversed_result[0] == 0.0
    assert me.phoneme_lip_auc(motion, [("a", 0.0), ("E", 0.5)], 1.0) is None  # no bilabials
    assert me.rank_auc(np.array([1.0, 2.0]), np.array([1.0])) == 0.75  # a tie counts half


def test_espeak_clip_gives_speech_and_its_phoneme_timings() -> None:
    from engine.errors import EngineError

    audio, phonemes = me.espeak_clip("en-us:Mama, papa.")
    assert audio.dtype == np.float32 and 0.5 < len(audio) / RATE_HZ < 3.0
    assert [p for p, _ in phonemes if p.strip("'") in ("m", "p")]
    starts = [start for _, start in phonemes]
    assert starts == sorted(starts) and starts[-1] < len(audio) / RATE_HZ
    for bad in ("no-colon", ":text only", "en-us:"):
        try:
            me.espeak_clip(bad)
        except EngineError as exc:
            assert "LANG:TEXT" in str(exc)
        else:
            raise AssertionError(bad)
