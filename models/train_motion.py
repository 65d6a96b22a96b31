"""Training loop for the motion model (audio encoder + diffusion transformer, trained jointly).

Each example is one sliding window [P context | W new | L lookahead] cut at a random place of a
random shard; P, W, L are drawn per batch so that one model serves every streaming profile. Log-mel
frames are computed once per shard (the same padded whole-clip computation as inference); the
encoder runs on the window plus its receptive field. Loss: MSE on normalized x0 over the new frames
(lookahead frames weighted lower) plus a velocity term that includes the step from the last context
frame, which is what a window boundary looks like.
"""

from __future__ import annotations

import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from models import motion_space
from models.audio_features import normalize_loudness, silence_log_mel
from models.audio_features import pad_clip as pad_audio_clip
from models.diffusion import q_sample
from models.motion_checkpoint import (
    CheckpointError,
    MotionModel,
    load_inference_checkpoint,
    save_inference_checkpoint,
)
from models.motion_data import Shard, list_shards, load_shard
from models.motion_dit import (
    CONTROL_GROUPS,
    MotionDiT,
    control_vector,
    window_positions,
)

log = logging.getLogger(__name__)

AUDIO_FRAMES_PER_MOTION_FRAME = 2


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "S"
    steps: int = 20_000
    batch_size: int = 64
    learning_rate: float = 7e-4
    weight_decay: float = 0.01
    warmup_steps: int = 300
    min_lr_fraction: float = 0.1
    context_frames: tuple[int, int] = (4, 12)  # P range, inclusive
    window_frames: tuple[int, int] = (4, 16)  # W range
    lookahead_frames: tuple[int, int] = (1, 6)  # L range
    audio_drop_p: float = 0.15
    # The context frames reveal a clip's emotion, gaze and head distance, so without these the
    # model copies the context and ignores the controls (a stream starts from neutral frames).
    context_neutral_p: float = 0.15  # context replaced by neutral frames (a stream's start)
    context_swap_p: float = 0.1  # context taken from another clip (a control change mid-stream)
    control_drop_p: float = 0.3
    lookahead_weight: float = 0.5
    velocity_weight: float = 0.5
    val_every: int = 500
    val_batches: int = 8
    checkpoint_every: int = 500
    val_fraction: float = 0.05
    seed: int = 0
    max_minutes: float | None = None
    # Share of synthetic clips whose phrases are made soft (soften_phrases) before the front end:
    # espeak-ng speaks at one level, so the model learned "soft voiced sound = a pause is coming"
    # and shut the mouth through real speakers' soft stretches (lj050-0131 at 4.9-5.6 s).
    soft_phrase_p: float = 0.0


@dataclass
class Clip:
    """One shard prepared for training: log-mel at 50 Hz and motion at 25 Hz."""

    log_mel: torch.Tensor  # (n_mels, 2T)
    motion: torch.Tensor  # (T, M)
    controls: torch.Tensor  # (CONTROL_DIM,)
    field_weights: torch.Tensor | None = None  # (M,) 1 = trained on; None = every field


# Fields a tracked video cannot supply as targets even where the landmark fit moved them: the
# emotion fields (the speaker's emotion is unknown, the shard says neutral), so the emotion
# controls stay what the synthetic corpus taught.
_VIDEO_UNTRUSTED = ("mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
                    "eyeWideLeft", "eyeWideRight")  # fmt: skip


def shard_field_weights(shard: Shard) -> torch.Tensor | None:
    """(M,) loss weights: a video shard trains only the fields its landmark fit measured (its
    meta's `measured_fields`), less the emotion fields; synthetic shards train every field."""
    measured = shard.meta.get("measured_fields") if shard.meta else None
    if measured is None:
        return None
    weights = torch.zeros(motion_space.MOTION_DIM)
    for name in measured:
        if name in motion_space.INDEX and name not in _VIDEO_UNTRUSTED:
            weights[motion_space.INDEX[name]] = 1.0
    return weights


@dataclass
class Corpus:
    clips: list[Clip] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(c.motion.shape[0] for c in self.clips)


def shard_controls(shard: Shard) -> torch.Tensor:
    """Controls a shard answers to: its label, and its clip-mean gaze and head distance."""
    gaze = shard.motion[:, motion_space.GAZE_SLICE].mean(axis=0)
    scale = float(shard.motion[:, motion_space.INDEX["scale"]].mean())
    return control_vector(
        shard.emotion, shard.emotion_intensity, (float(gaze[0]), float(gaze[1])), scale
    )


SOFT_PHRASE_DB = (-12.0, -4.0)  # level of a softened stretch
SOFT_SEGMENT_S = (0.3, 1.5)  # length of the stretches the gain curve is drawn over
_SOFT_RAMP_S = 0.08


def soften_phrases(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(S,) 16 kHz audio -> the same under a slow random gain: stretches of 0.3-1.5 s, half of them
    at a soft level (-12..-4 dB), ramped over 80 ms. The mouth targets stay those of the clean
    speech: a real speaker's soft phrase still opens the mouth (the targets' own loudness scaling
    is mild, x0.7 at -30 dB)."""
    gains_db: list[np.ndarray] = []
    total = 0
    while total < len(audio):
        n = int(rng.uniform(*SOFT_SEGMENT_S) * 16_000)
        level = rng.uniform(*SOFT_PHRASE_DB) if rng.random() < 0.5 else 0.0
        gains_db.append(np.full(n, level))
        total += n
    curve = np.concatenate(gains_db)[: len(audio)]
    ramp = max(1, int(_SOFT_RAMP_S * 16_000))
    curve = np.convolve(np.pad(curve, (ramp // 2, ramp - 1 - ramp // 2), mode="edge"),
                        np.ones(ramp) / ramp, mode="valid")  # fmt: skip
    out: np.ndarray = (audio * 10.0 ** (curve / 20.0)).astype(np.float32)
    return out


@torch.no_grad()
def load_corpus(
    paths: list[Path], model: MotionModel, soft_phrase_p: float = 0.0, seed: int = 0
) -> Corpus:
    """Shards -> clips; `soft_phrase_p` of the synthetic ones (no video field mask) get
    soften_phrases first (seeded per shard name, so a resumed run sees the same audio)."""
    corpus = Corpus()
    for path in tqdm(paths, desc="log-mel", unit="shard", leave=False, mininterval=10):
        shard = load_shard(path)
        samples = shard.audio_16k.astype(np.float32) / 32768.0
        rng = np.random.default_rng([seed, zlib.crc32(path.name.encode())])
        if shard_field_weights(shard) is None and rng.random() < soft_phrase_p:
            samples = soften_phrases(samples, rng)
        # The runtime front end's loudness normalisation (engine/motion/features.py), then log-mel.
        audio = torch.from_numpy(normalize_loudness(samples))
        log_mel = model.log_mel(pad_audio_clip(audio)[None])[0]  # (n_mels, 2T)
        motion = torch.from_numpy(shard.motion.astype(np.float32))  # (T, M)
        corpus.clips.append(
            Clip(log_mel, motion, shard_controls(shard), shard_field_weights(shard))
        )
    return corpus


def split_paths(paths: list[Path], val_fraction: float) -> tuple[list[Path], list[Path]]:
    """Deterministic split by file name hash, so resuming sees the same split."""
    threshold = int(val_fraction * 1000)
    val = [p for p in paths if zlib.crc32(p.name.encode()) % 1000 < threshold]
    train = [p for p in paths if p not in set(val)]
    if not val and len(train) > 1:
        val = train[-1:]
        train = train[:-1]
    return train, val


def motion_statistics(corpus: Corpus) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-field mean and std; std floored at 2% of the field's range (constant fields)."""
    motion = torch.cat([c.motion for c in corpus.clips])  # (sum T, M)
    mean = motion.mean(dim=0)  # (M,)
    std = motion.std(dim=0)  # (M,)
    floor = 0.02 * torch.from_numpy(motion_space.HIGH - motion_space.LOW)  # (M,)
    return mean, torch.maximum(std, floor)


@dataclass
class Batch:
    motion: torch.Tensor  # (B, N, M) raw, ground truth for all slots
    audio_mel: torch.Tensor  # (B, n_mels, RF - 1 + 2N)
    controls: torch.Tensor  # (B, CONTROL_DIM)
    context_frames: int
    window_frames: int
    lookahead_frames: int
    field_weights: torch.Tensor | None = None  # (B, M); None = every field of every window


def cut_window(
    clip: Clip, start: int, context: int, total: int, left_mel: int, right_mel: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Motion (total, M) and log-mel (n_mels, left + 2 total + right) for frames [start - context,
    start - context + total); neutral motion before the clip, the last frame after, silence mel
    outside it."""
    first = start - context
    n_frames = clip.motion.shape[0]
    index = torch.arange(first, first + total)  # (N,)
    motion = clip.motion[index.clamp(0, n_frames - 1)]  # (N, M)
    neutral = torch.from_numpy(motion_space.NEUTRAL)  # (M,)
    motion = torch.where((index < 0)[:, None], neutral, motion)  # (N, M)
    mel_first = AUDIO_FRAMES_PER_MOTION_FRAME * first - left_mel
    mel_count = left_mel + AUDIO_FRAMES_PER_MOTION_FRAME * total + right_mel
    mel_index = torch.arange(mel_first, mel_first + mel_count)  # (F,)
    n_mel = clip.log_mel.shape[1]
    mel = clip.log_mel[:, mel_index.clamp(0, n_mel - 1)]  # (n_mels, F)
    outside = (mel_index < 0) | (mel_index >= n_mel)  # (F,)
    mel = torch.where(outside[None], torch.tensor(silence_log_mel()), mel)  # (n_mels, F)
    return motion, mel


def sample_batch(
    corpus: Corpus,
    generator: np.random.Generator,
    batch_size: int,
    context: int,
    window: int,
    lookahead: int,
    left_mel: int,
    right_mel: int,
    config: TrainConfig | None = None,
) -> Batch:
    """Random windows; with `config`, the context augmentation of training is applied."""
    lengths = np.array([c.motion.shape[0] for c in corpus.clips], dtype=np.float64)
    picks = generator.choice(len(corpus.clips), size=batch_size, p=lengths / lengths.sum())
    total = context + window + lookahead
    motions, mels, controls, weights = [], [], [], []
    for clip_index in picks:
        clip = corpus.clips[int(clip_index)]
        start = int(generator.integers(0, max(1, clip.motion.shape[0] - window + 1)))
        motion, mel = cut_window(clip, start, context, total, left_mel, right_mel)
        motions.append(motion)
        mels.append(mel)
        controls.append(clip.controls)
        weights.append(
            clip.field_weights
            if clip.field_weights is not None
            else torch.ones(motion_space.MOTION_DIM)
        )
    motion = torch.stack(motions)  # (B, N, M)
    if config is not None:
        motion = augment_context(motion, context, config, generator)
    field_weights = torch.stack(weights)  # (B, M)
    return Batch(
        motion,
        torch.stack(mels),
        torch.stack(controls),
        context,
        window,
        lookahead,
        None if bool((field_weights == 1).all()) else field_weights,
    )


def augment_context(
    motion: torch.Tensor, context: int, config: TrainConfig, generator: np.random.Generator
) -> torch.Tensor:
    """(B, N, M) windows -> the same with some context slots replaced (neutral or another's)."""
    draw = torch.from_numpy(generator.random(motion.shape[0]))  # (B,)
    neutral = draw < config.context_neutral_p  # (B,)
    swap = (draw >= config.context_neutral_p) & (
        draw < config.context_neutral_p + config.context_swap_p
    )  # (B,)
    out = motion.clone()
    out[neutral, :context] = torch.from_numpy(motion_space.NEUTRAL)
    others = motion.roll(1, dims=0)  # (B, N, M) another window of the batch
    out[swap, :context] = others[swap, :context]
    return out


def window_loss(
    model: MotionModel,
    batch: Batch,
    config: TrainConfig,
    generator: torch.Generator,
    drop_conditions: bool,
) -> torch.Tensor:
    dit: MotionDiT = model.dit
    size, tokens, _ = batch.motion.shape
    clean = dit.normalize(batch.motion)  # (B, N, M)
    audio = model.encoder(batch.audio_mel)  # (B, 2N, A)
    known = torch.zeros(size, tokens, 1)  # (B, N, 1)
    known[:, : batch.context_frames] = 1.0
    t = torch.rand(size, generator=generator)  # (B,)
    noise = torch.randn(clean.shape, generator=generator)  # (B, N, M)
    noisy = q_sample(clean, t, noise)  # (B, N, M)
    if drop_conditions:
        audio_keep = (torch.rand(size, 1, generator=generator) > config.audio_drop_p).float()
        control_keep = (
            torch.rand(size, CONTROL_GROUPS, generator=generator) > config.control_drop_p
        ).float()
    else:
        audio_keep = torch.ones(size, 1)
        control_keep = torch.ones(size, CONTROL_GROUPS)
    positions = window_positions(batch.context_frames, tokens).expand(size, -1)  # (B, N)
    predicted = dit(
        noisy, clean, known, t, audio, audio_keep, batch.controls, control_keep, positions
    )  # (B, N, M)
    weights = torch.zeros(tokens)  # (N,)
    new_end = batch.context_frames + batch.window_frames
    weights[batch.context_frames : new_end] = 1.0
    weights[new_end:] = config.lookahead_weight
    if batch.field_weights is None:
        field_weights = torch.ones(size, 1, clean.shape[2])  # (B, 1, M)
    else:
        field_weights = batch.field_weights[:, None, :]  # (B, 1, M)
    field_norm = field_weights.sum() / clean.shape[2]  # windows' worth of trained fields
    squared = ((predicted - clean) ** 2 * field_weights).sum(dim=(0, 2)) / (
        field_norm * clean.shape[2]
    )  # (N,)
    x0_loss = (squared * weights).sum() / weights.sum()
    # Velocity from the last context frame on: penalises jumps at the window boundary.
    first = batch.context_frames - 1
    predicted_path = torch.cat([clean[:, first : first + 1], predicted[:, first + 1 :]], dim=1)
    velocity_error = predicted_path.diff(dim=1) - clean[:, first:].diff(dim=1)  # (B, N - P, M)
    velocity_loss = (velocity_error**2 * field_weights).sum() / (
        field_norm * clean.shape[2] * velocity_error.shape[1]
    )
    total: torch.Tensor = x0_loss + config.velocity_weight * velocity_loss
    return total


def learning_rate(step: int, config: TrainConfig, time_fraction: float = 0.0) -> float:
    """Warmup, then cosine decay over steps, or over --max-minutes if that ends first."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    step_fraction = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    progress = min(1.0, max(step_fraction, time_fraction))
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    floor = config.min_lr_fraction
    return config.learning_rate * (floor + (1.0 - floor) * cosine)


VALIDATION_GEOMETRY = (8, 4, 2)  # P, W, L of the low-latency profile


@torch.no_grad()
def validation_loss(model: MotionModel, corpus: Corpus, config: TrainConfig) -> float:
    """Deterministic: fixed windows, fixed noise, all conditions kept."""
    model.eval()
    rng = np.random.default_rng(1234)
    generator = torch.Generator().manual_seed(1234)
    left_mel, right_mel = mel_margins(model)
    losses = []
    for _ in range(config.val_batches):
        batch = sample_batch(
            corpus, rng, config.batch_size, *VALIDATION_GEOMETRY, left_mel, right_mel
        )
        losses.append(float(window_loss(model, batch, config, generator, drop_conditions=False)))
    model.train()
    return float(np.mean(losses))


def mel_margins(model: MotionModel) -> tuple[int, int]:
    encoder = model.encoder.config
    return encoder.left_context_frames, encoder.lookahead_frames


@dataclass
class TrainState:
    step: int = 0
    best_val: float = float("inf")
    history: list[dict[str, float]] = field(default_factory=list)


def save_training_checkpoint(
    path: Path,
    model: MotionModel,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    config: TrainConfig,
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "configs": model.configs(),
            "optimizer": optimizer.state_dict(),
            "state": asdict(state),
            "train_config": asdict(config),
            "motion_space_version": motion_space.MOTION_SPACE_VERSION,
        },
        tmp,
    )
    tmp.replace(path)


def train(
    data_dirs: list[Path],
    out_dir: Path,
    config: TrainConfig,
    val_dirs: list[Path] | None = None,
    resume: bool = False,
    on_best: Callable[[Path], None] | None = None,
    init: Path | None = None,
) -> TrainState:
    """Train; writes last.pt, best.pt (inference checkpoint) and metrics.jsonl under out_dir.

    `init` (an inference checkpoint of the same preset) fine-tunes: its weights and its motion
    normalization are kept, so what it learned still means the same thing.
    """
    torch.manual_seed(config.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = MotionModel.from_preset(config.preset)
    if init is not None:
        _load_init(init, model, config.preset)
    paths = list_shards(*data_dirs)
    if val_dirs:
        train_paths, val_paths = paths, list_shards(*val_dirs)
    else:
        train_paths, val_paths = split_paths(paths, config.val_fraction)
    log.info("shards: %d train, %d validation", len(train_paths), len(val_paths))
    train_corpus = load_corpus(train_paths, model, config.soft_phrase_p, config.seed)
    val_corpus = load_corpus(val_paths, model)
    log.info("frames: %d train, %d validation", train_corpus.frames, val_corpus.frames)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    state = TrainState()
    last_path = out_dir / "last.pt"
    if resume and last_path.exists():
        state = _resume(last_path, model, optimizer)
        log.info("resumed at step %d", state.step)
    elif init is not None:
        log.info("fine-tuning from %s", init)
    else:
        mean, std = motion_statistics(train_corpus)
        model.dit.motion_mean.copy_(mean)
        model.dit.motion_std.copy_(std)
    _loop(model, optimizer, state, config, train_corpus, val_corpus, out_dir, on_best)
    return state


def _load_init(path: Path, model: MotionModel, preset: str) -> None:
    initial, meta = load_inference_checkpoint(path)
    if meta["preset"] != preset or initial.configs() != model.configs():
        raise CheckpointError(f"{path} is preset {meta['preset']}, not {preset}: cannot fine-tune")
    model.load_state_dict(initial.state_dict())


def _resume(path: Path, model: MotionModel, optimizer: torch.optim.Optimizer) -> TrainState:
    payload = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    return TrainState(**payload["state"])


def _loop(
    model: MotionModel,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    config: TrainConfig,
    train_corpus: Corpus,
    val_corpus: Corpus,
    out_dir: Path,
    on_best: Callable[[Path], None] | None,
) -> None:
    rng = np.random.default_rng(config.seed + state.step)
    generator = torch.Generator().manual_seed(config.seed + state.step)
    left_mel, right_mel = mel_margins(model)
    started = time.monotonic()
    running = 0.0
    model.train()
    progress = tqdm(total=config.steps, initial=state.step, desc="train motion", mininterval=30)
    while state.step < config.steps:
        context, window, lookahead = (
            int(rng.integers(lo, hi + 1))
            for lo, hi in (config.context_frames, config.window_frames, config.lookahead_frames)
        )
        batch = sample_batch(
            train_corpus,
            rng,
            config.batch_size,
            context,
            window,
            lookahead,
            left_mel,
            right_mel,
            config,
        )
        elapsed_s = time.monotonic() - started
        time_fraction = elapsed_s / (60.0 * config.max_minutes) if config.max_minutes else 0.0
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(state.step, config, time_fraction)
        loss = window_loss(model, batch, config, generator, drop_conditions=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state.step += 1
        loss_value = loss.item()
        running = 0.98 * running + 0.02 * loss_value if state.step > 1 else loss_value
        progress.update(1)
        progress.set_postfix(loss=f"{running:.4f}", refresh=False)
        out_of_time = time_fraction >= 1.0
        if state.step % config.val_every == 0 or state.step == config.steps or out_of_time:
            _validate(model, state, config, val_corpus, running, out_dir, started, on_best)
        if state.step % config.checkpoint_every == 0 or state.step == config.steps or out_of_time:
            save_training_checkpoint(out_dir / "last.pt", model, optimizer, state, config)
        if out_of_time:
            log.info("stopping at step %d: --max-minutes reached", state.step)
            break
    progress.close()


def _validate(
    model: MotionModel,
    state: TrainState,
    config: TrainConfig,
    val_corpus: Corpus,
    train_loss: float,
    out_dir: Path,
    started: float,
    on_best: Callable[[Path], None] | None,
) -> None:
    val = validation_loss(model, val_corpus, config)
    record = {
        "step": state.step,
        "train_loss": round(train_loss, 5),
        "val_loss": round(val, 5),
        "minutes": round((time.monotonic() - started) / 60.0, 2),
    }
    state.history.append(record)
    with (out_dir / "metrics.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    log.info("step %d train %.4f val %.4f", state.step, train_loss, val)
    if val < state.best_val:
        state.best_val = val
        best = out_dir / "best.pt"
        summary: dict[str, Any] = dict(record, train_config=asdict(config))
        save_inference_checkpoint(best, model, config.preset, summary)
        if on_best is not None:
            on_best(best)
