"""Assemble synthetic clips (speech + motion) and write them as training shards.

Each clip: one random voice (language, variant, rate, pitch, range), one emotion with an intensity,
one mean gaze and head distance; several sentences separated by silent gaps; motion built from the
clean speech's phoneme timings and prosody; audio then resampled to 16 kHz and augmented.
Clip i is drawn from its own random stream (seed, i), so a corpus is reproducible and an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models import motion_space
from models.motion_data import SAMPLES_PER_MOTION_FRAME, Shard, load_shard, save_shard
from models.synth import augment, expression, mouth, prosody, text
from models.synth.espeak import ESPEAK_RATE_HZ, Voice, synthesize

_EN_BASES = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
_VARIANTS = (
    "",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt2",
    "klatt3",
    "Andy",
    "Annie",
    "Alicia",
    "Andrea",
    "adam",
    "antonio",
    "belinda",
    "benjamin",
    "caleb",
    "david",
    "ed",
    "edward",
    "john",
    "linda",
    "max",
    "michel",
    "paul",
    "pedro",
    "quincy",
    "rob",
    "robert",
    "steph",
    "travis",
    "victor",
    "zac",
    "aunty",
    "boris",
)
_OTHER_LANGUAGES = ("de", "fr", "es", "it")
_EMOTION_PROBS = (0.3, 0.175, 0.175, 0.175, 0.175)  # order of motion_space.EMOTIONS
_HEAD_ENERGY = {"neutral": 1.0, "happy": 1.2, "sad": 0.6, "angry": 1.3, "surprised": 1.1}
_BABBLE_POOL_SIZE = 24


@dataclass(frozen=True)
class ClipPlan:
    voice: Voice
    language: str
    emotion: str
    intensity: float
    gaze_mean: np.ndarray  # (2,)
    scale_mean: float
    blink_rate_per_min: float
    target_s: float


def _language(rng: np.random.Generator) -> str:
    """English 35 %, the word-list languages 20 %, the ~45 pseudo-word languages 45 %."""
    draw = rng.random()
    if draw < 0.35:
        return "en"
    if draw < 0.55:
        return str(rng.choice(_OTHER_LANGUAGES))
    return str(rng.choice(sorted(text.SCRIPTS)))


def plan_clip(rng: np.random.Generator, min_s: float = 7.0, max_s: float = 16.0) -> ClipPlan:
    language = _language(rng)
    base = str(rng.choice(_EN_BASES)) if language == "en" else language
    variant = str(rng.choice(_VARIANTS))
    voice = Voice(
        name=f"{base}+{variant}" if variant else base,
        rate_wpm=int(rng.integers(110, 261)),
        pitch=int(rng.integers(10, 91)),
        pitch_range=int(rng.integers(10, 96)),
    )
    emotion = str(rng.choice(motion_space.EMOTIONS, p=_EMOTION_PROBS))
    return ClipPlan(
        voice=voice,
        language=language,
        emotion=emotion,
        intensity=0.0 if emotion == "neutral" else float(rng.uniform(0.3, 1.0)),
        gaze_mean=np.clip(rng.normal(0.0, [0.2, 0.12]), -0.6, 0.6),
        scale_mean=float(np.clip(rng.normal(0.0, 0.1), -0.25, 0.25)),
        blink_rate_per_min=float(rng.uniform(10.0, 20.0)),
        target_s=float(rng.uniform(min_s, max_s)),
    )


def _speech(
    plan: ClipPlan, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[str, float]], list[str]]:
    """Sentences with silent gaps: (22050 Hz int16 audio, phoneme timings, sentences)."""
    pieces: list[np.ndarray] = []
    phonemes: list[tuple[str, float]] = []
    sentences: list[str] = []
    position_s = _append_silence(pieces, phonemes, 0.0, float(rng.uniform(0.2, 1.0)))
    while position_s < plan.target_s:
        sentence = text.sentence(plan.language, rng)
        utterance = synthesize(sentence, plan.voice)
        pieces.append(utterance.samples_22k)
        phonemes.extend((name, position_s + start_s) for name, start_s in utterance.phonemes)
        sentences.append(sentence)
        position_s += len(utterance.samples_22k) / ESPEAK_RATE_HZ
        position_s = _append_silence(pieces, phonemes, position_s, float(rng.uniform(0.3, 1.5)))
    return np.concatenate(pieces), phonemes, sentences


def _append_silence(
    pieces: list[np.ndarray], phonemes: list[tuple[str, float]], position_s: float, gap_s: float
) -> float:
    samples = int(gap_s * ESPEAK_RATE_HZ)
    pieces.append(np.zeros(samples, np.int16))
    phonemes.append(("_", position_s))
    return position_s + samples / ESPEAK_RATE_HZ


def _motion(
    plan: ClipPlan,
    clean_16k: np.ndarray,
    phonemes: list[tuple[str, float]],
    rng: np.random.Generator,
) -> np.ndarray:
    num_frames = math.ceil(len(clean_16k) / SAMPLES_PER_MOTION_FRAME)
    analysis = prosody.analyse(clean_16k, num_frames)
    motion = np.tile(motion_space.neutral_frame(), (num_frames, 1))  # (T, D)
    # Louder phrases open the jaw further (and give the model an audio cue to learn).
    mouth_values = mouth.mouth_track(
        phonemes, num_frames, float(rng.uniform(0.9, 1.3)), analysis.loudness_db
    )
    mouth.write_mouth(motion, mouth_values)
    motion += expression.emotion_offsets(plan.emotion, plan.intensity, num_frames, rng)
    blinks = expression.blink_track(num_frames, rng, plan.blink_rate_per_min)
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        motion[:, motion_space.INDEX[name]] += blinks
    motion[:, motion_space.GAZE_SLICE] = expression.gaze_track(num_frames, rng, plan.gaze_mean)
    brows = expression.brow_raises(prosody.accents(analysis), rng)
    for name in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"):
        motion[:, motion_space.INDEX[name]] += brows
    motion[:, motion_space.POSE_SLICE] = prosody.head_pose(analysis, rng, _head_style(plan, rng))
    return motion_space.clip(motion)


def _head_style(plan: ClipPlan, rng: np.random.Generator) -> prosody.HeadStyle:
    energy = _HEAD_ENERGY[plan.emotion] ** plan.intensity * float(rng.uniform(0.7, 1.3))
    look_down_rad = 0.05 * plan.intensity if plan.emotion == "sad" else 0.0
    return prosody.HeadStyle(energy, look_down_rad, plan.scale_mean)


def synth_clip(seed: int, index: int, babble_pool: list[np.ndarray]) -> Shard:
    """Clip `index` of the corpus with `seed`; appends its clean audio to `babble_pool`."""
    rng = np.random.default_rng([seed, index])
    plan = plan_clip(rng)
    samples_22k, phonemes, sentences = _speech(plan, rng)
    clean_16k = augment.resample_to_16k(samples_22k)
    motion = _motion(plan, clean_16k, phonemes, rng)
    heard, augmentation = augment.augment(clean_16k, rng, babble_pool)
    babble_pool.append(clean_16k)
    del babble_pool[:-_BABBLE_POOL_SIZE]
    return Shard(
        audio_16k=augment.to_int16(heard),
        motion=motion,
        emotion=motion_space.EMOTIONS.index(plan.emotion),
        emotion_intensity=plan.intensity,
        meta=_meta(plan, seed, index, sentences, augmentation),
    )


def _meta(
    plan: ClipPlan, seed: int, index: int, sentences: list[str], augmentation: dict[str, Any]
) -> dict[str, Any]:
    return {
        "source": "synth",
        "seed": seed,
        "index": index,
        "voice": plan.voice.name,
        "language": plan.language,
        "rate_wpm": plan.voice.rate_wpm,
        "pitch": plan.voice.pitch,
        "pitch_range": plan.voice.pitch_range,
        "emotion": plan.emotion,
        "gaze_mean": [round(float(v), 4) for v in plan.gaze_mean],
        "scale_mean": round(plan.scale_mean, 4),
        "blink_rate_per_min": round(plan.blink_rate_per_min, 2),
        "augmentation": augmentation,
        "text": " ".join(sentences),
    }


@dataclass
class CorpusSummary:
    clips: int = 0
    seconds: float = 0.0
    reused_clips: int = 0
    paths: list[Path] = field(default_factory=list)


def synthesize_corpus(
    hours: float, out_dir: Path, seed: int = 0, progress: Callable[[float], None] | None = None
) -> CorpusSummary:
    """Write clips `synth_<seed>_<i>.npz` to `out_dir` until `hours` of audio exist.

    `progress(seconds)` is called after each clip with the seconds it added. Existing shards with
    the same name are kept and counted, so a stopped run continues.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = CorpusSummary()
    babble_pool: list[np.ndarray] = []
    while summary.seconds < hours * 3600.0:
        path = out_dir / f"synth_{seed}_{summary.clips:06d}.npz"
        if path.exists():
            shard = load_shard(path)
            summary.reused_clips += 1
        else:
            shard = synth_clip(seed, summary.clips, babble_pool)
            save_shard(path, shard)
        seconds = len(shard.audio_16k) / augment.AUDIO_RATE_HZ
        summary.clips += 1
        summary.seconds += seconds
        summary.paths.append(path)
        if progress is not None:
            progress(seconds)
    return summary
