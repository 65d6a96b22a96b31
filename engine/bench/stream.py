"""`gioconda bench stream`: live streams on this machine, no network.

A speech source pushes utterances with pauses between (so idle and speech alternate) into each
stream, either in real-time 20 ms chunks (a microphone) or each utterance at once (a TTS); a
consumer per stream pulls frames on the media clock (frame k at t0 + k / fps, as the WebRTC
track does). Reported per stream count: latency from a chunk entering the stream to the
departure of the first frame that shows it (p50, p95), frames/s delivered, frames late or
repeated (degradation), process CPU share, and where the worker's time goes. First, one
unpaced stream measures the frames/s the pipeline sustains (its headroom over real time). A
count is sustained when under 1% of frames are repeated or late by more than one frame. The
motion profile's W, P, L and its algorithmic latency are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar.prepared import PreparedAvatar
from engine.avatar.source import load_avatar
from engine.backends.base import BackendConfig, BackendName
from engine.contract import StreamOptions
from engine.motion.clip import load_motion_model
from engine.motion.profiles import get_profile
from engine.stream.engine import AvatarStream, StreamEngine
from models.motion_checkpoint import MotionModel
from server.commands.arg_types import positive_int, positive_ints

CHUNK_S = 0.020
UTTERANCE_S = 2.0
PAUSE_S = 1.0
RATE_HZ = 16_000
SUSTAINED_BAD_FRACTION = 0.01


def speech_like(seconds: float, seed: int = 0) -> NDArray[np.float32]:
    """Syllable-rate bursts of a voiced harmonic sound with noise: enough to drive a mouth."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0.0, None) ** 0.5
    audio: NDArray[np.float32] = (
        0.25 * envelope * (voiced + 0.2 * rng.standard_normal(len(t)))
    ).astype(np.float32)
    return audio


@dataclass
class StreamResult:
    latencies_s: list[float] = field(default_factory=list)
    frames: int = 0
    late: int = 0


@dataclass(frozen=True)
class TrialResult:
    source: str
    streams: int
    seconds: float
    results: list[StreamResult]
    cpu_share: float
    repeated: int
    rendered: int
    worker_s: dict[str, float]

    @property
    def latencies_ms(self) -> NDArray[np.float64]:
        return 1000.0 * np.array([x for r in self.results for x in r.latencies_s])

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results)

    @property
    def sustained(self) -> bool:
        bad = self.repeated + sum(r.late for r in self.results)
        return bad <= SUSTAINED_BAD_FRACTION * max(1, self.frames)


async def _source(stream: AvatarStream, seconds: float, burst: bool) -> None:
    """Utterances then pauses; each utterance in real-time 20 ms chunks (a microphone) or pushed
    at once (a TTS that synthesizes faster than real time)."""
    rng = np.random.default_rng(0)
    audio = speech_like(UTTERANCE_S / 2 if burst else UTTERANCE_S)
    chunk = len(audio) if burst else int(CHUNK_S * RATE_HZ)
    start = time.monotonic()
    sent_s = 0.0
    while sent_s < seconds:
        for begin in range(0, len(audio), chunk):
            stream.push_audio(audio[begin : begin + chunk], RATE_HZ)
            sent_s += chunk / RATE_HZ
            await asyncio.sleep(max(0.0, start + sent_s - time.monotonic()))
        stream.end_segment()
        # A random part of a motion window more, so arrivals sample every window phase.
        sent_s += PAUSE_S + rng.uniform(0.0, 0.16)
        await asyncio.sleep(max(0.0, start + sent_s - time.monotonic()))


async def _consumer(stream: AvatarStream, seconds: float, fps: int) -> StreamResult:
    """Pull on the media clock (frame k due at the first frame's arrival + k / fps); one
    latency per input chunk, at the first frame that shows it."""
    result = StreamResult()
    start: float | None = None
    last_arrival: float | None = None
    async for frame in stream.frames():
        now = time.monotonic()
        start = now if start is None else start
        due = start + frame.index / fps
        result.late += now > due + 1.0 / fps
        if frame.audio_arrival_s is not None and frame.audio_arrival_s != last_arrival:
            result.latencies_s.append(now - frame.audio_arrival_s)
            last_arrival = frame.audio_arrival_s
        result.frames += 1
        if frame.index + 1 >= seconds * fps:
            break
        await asyncio.sleep(max(0.0, due + 1.0 / fps - time.monotonic()))
    return result


async def run_trial(
    engine: StreamEngine,
    avatar: PreparedAvatar,
    options: StreamOptions,
    n: int,
    seconds: float,
    burst: bool = False,
    distinct_avatars: bool = False,
) -> TrialResult:
    """n live streams for `seconds`; distinct_avatars: each on its own copy of the avatar (its
    own renderer), as sessions on different portraits are, instead of all sharing one."""
    avatars = [_copy(avatar) if distinct_avatars else avatar for _ in range(n)]
    streams = [engine.create_stream(a, options) for a in avatars]
    before = _worker_seconds(engine)
    repeated, rendered = engine.stats.frames_repeated, engine.stats.frames_rendered
    cpu_start, wall_start = time.process_time(), time.monotonic()
    sources = [asyncio.create_task(_source(s, seconds, burst)) for s in streams]
    results = await asyncio.gather(*(_consumer(s, seconds, options.fps) for s in streams))
    wall = time.monotonic() - wall_start
    cpu = time.process_time() - cpu_start
    for task in sources:
        task.cancel()
    for stream in streams:
        await stream.close()
    after = _worker_seconds(engine)
    return TrialResult(
        "TTS bursts" if burst else "real-time 20 ms chunks",
        n,
        wall,
        list(results),
        cpu / wall,
        engine.stats.frames_repeated - repeated,
        engine.stats.frames_rendered - rendered,
        {k: (after[k] - before[k]) / wall for k in after},
    )


def _copy(avatar: PreparedAvatar) -> PreparedAvatar:
    return dataclasses.replace(avatar, rig=dict(avatar.rig))


def _worker_seconds(engine: StreamEngine) -> dict[str, float]:
    stats = engine.stats
    return {
        "audio encoder": stats.encoder_s,
        "sampler": stats.sampler_s,
        "decoder": stats.decoder_s,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", type=Path, default=None, help="portrait or .avatar.npz")
    parser.add_argument("--seconds", type=float, default=12.0, help="per trial")
    parser.add_argument("--profile", default="low-latency")
    parser.add_argument("--fps", type=int, default=40)
    parser.add_argument("--max-streams", type=int, default=4, help="try 1, 2, ... up to this")
    parser.add_argument(
        "--streams",
        type=positive_ints,
        default=None,
        help="stream counts to try instead, comma-separated (e.g. 8,16,32 on a GPU)",
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="model worker threads")
    parser.add_argument(
        "--motion-backend",
        choices=[str(n) for n in BackendName],
        default=None,
        help="motion denoiser backend (default: the decoder's, auto); onnxruntime and tensorrt "
        "export the motion graphs to a temporary folder first",
    )
    parser.add_argument(
        "--distinct-avatars",
        action="store_true",
        help="each stream on its own avatar copy (separate renderers) instead of one shared",
    )
    parser.add_argument("--weights", type=Path, default=None, help="motion model checkpoint")
    parser.add_argument("--threads", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    profile = get_profile(args.profile)
    options = StreamOptions(profile=args.profile, fps=args.fps)
    avatar = load_avatar(args.image)
    model = load_motion_model(args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        motion_config = _motion_config(args, model, Path(tmp))
        engine = StreamEngine(
            threads=args.threads,
            model=model,
            motion_backend=motion_config,
            workers=args.workers,
        )
    try:
        engine.warm_up(avatar)
        print(
            f"stream benchmark: profile {profile.name} (W={profile.window_frames}, "
            f"P={profile.context_frames}, L={profile.lookahead_frames} motion frames of 40 ms, "
            f"{profile.sampling_steps} steps; algorithmic latency {profile.algorithmic_latency_ms}"
            f" ms), {args.fps} fps, {args.threads} thread(s), {args.workers} worker(s), "
            f"{'one avatar per stream' if args.distinct_avatars else 'one shared avatar'}, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        best = asyncio.run(_trials(engine, avatar, options, args))
    finally:
        engine.close()
    print(f"simultaneous {args.fps} fps streams sustained on this machine: {best}")
    return 0


def _motion_config(args: argparse.Namespace, model: MotionModel, tmp: Path) -> BackendConfig | None:
    """The motion backend asked for; the denoiser graph is written to `tmp` where it needs one
    (the engine opens it at construction, so the folder may go afterwards)."""
    if args.motion_backend is None:
        return None
    name = BackendName(args.motion_backend)
    if name in (BackendName.ONNXRUNTIME, BackendName.TENSORRT):
        from models.export_motion import export_denoiser

        export_denoiser(model, tmp)
    return BackendConfig(
        backend=name,
        artifacts_dir=tmp,
        threads=args.threads,
        build_missing_engines=name == BackendName.TENSORRT,
    )


async def throughput_fps(
    engine: StreamEngine, avatar: PreparedAvatar, options: StreamOptions, seconds: float
) -> float:
    """Frames/s one stream makes with no pacing (an offline stream on speech): the capacity
    that real time (options.fps) leaves as headroom."""
    stream = engine.create_stream(avatar, options, realtime=False)
    stream.push_audio(speech_like(seconds), RATE_HZ)
    stream.end_segment()
    start = time.monotonic()
    frames = 0
    async for _ in stream.frames():
        frames += 1
        if frames >= seconds * options.fps:
            break
    elapsed = time.monotonic() - start
    await stream.close()
    return frames / elapsed


async def _trials(
    engine: StreamEngine, avatar: PreparedAvatar, options: StreamOptions, args: argparse.Namespace
) -> int:
    capacity = await throughput_fps(engine, avatar, options, min(args.seconds, 8.0))
    print(
        f"1 stream, unpaced (offline): {capacity:.1f} frames/s sustained, "
        f"{capacity / options.fps:.2f}x the {options.fps} fps real time"
    )
    _print_trial(await run_trial(engine, avatar, options, 1, args.seconds, burst=True), args.fps)
    best = 0
    counts = args.streams or tuple(range(1, args.max_streams + 1))
    for n in counts:
        trial = await run_trial(
            engine, avatar, options, n, args.seconds, distinct_avatars=args.distinct_avatars
        )
        _print_trial(trial, args.fps)
        if not trial.sustained:
            break
        best = n
    return best


def _print_trial(trial: TrialResult, fps: int) -> None:
    latency = trial.latencies_ms
    p50, p95 = np.percentile(latency, [50, 95]) if len(latency) else (float("nan"),) * 2
    late = sum(r.late for r in trial.results)
    print(
        f"{trial.streams} stream(s), {trial.source}: latency p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
        f"{trial.frames / trial.seconds:.1f} frames/s delivered ({fps * trial.streams} wanted), "
        f"{late} late, {trial.repeated} repeated of {trial.frames}; CPU {trial.cpu_share:.0%} "
        f"of one core; {'sustained' if trial.sustained else 'NOT sustained'}"
    )
    where = ", ".join(f"{name} {share:.0%}" for name, share in trial.worker_s.items())
    print(f"    worker time as a share of wall time: {where}")
