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

import asyncio
import dataclasses
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from numpy.typing import NDArray

from engine.avatar.prepared import PreparedAvatar
from engine.avatar.source import load_avatar
from engine.backends.base import BackendConfig, BackendName
from engine.bench.windows import LOAD_WINDOW_S, spread_and_trend
from engine.contract import StreamOptions
from engine.motion.clip import load_motion_model
from engine.motion.profiles import get_profile
from engine.stream.engine import StreamEngine, validate_options
from engine.stream.heap import freeze_long_lived
from engine.stream.session import AvatarStream
from models.motion_checkpoint import MotionModel

if TYPE_CHECKING:
    from engine.avatar.worker import PreparationWorker

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


CATCH_UP_PERIOD_FRAMES = 0.5  # as server/transport/pacing.py: late frames at twice real time
RECOVER_S = 8.0
BUSY_LOOP = "while True: pass"


@dataclass
class Departure:
    at_s: float  # time.monotonic() when the consumer took the frame
    latencies_s: list[float]  # speech chunks this frame showed first: arrival -> departure
    repeated: bool  # the same picture as the frame before (the engine degraded)


@dataclass(frozen=True)
class LoadWindow:
    start_s: float  # from the first frame
    delay_ms: float  # median speech-to-departure delay in the window (nan: no speech)
    fps: float
    gap_p95_ms: float
    repeated: int
    frames: int
    loaded: bool


def busy_processes(count: int) -> list[subprocess.Popen[bytes]]:
    """`count` CPU-bound processes (the other work of a shared machine); kill them when done."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.kill()
    for process in processes:
        process.wait()


async def _load_consumer(
    stream: AvatarStream, seconds: float, fps: int, on_elapsed: dict[float, Callable[[], object]]
) -> list[Departure]:
    """Pull on the media clock without ever re-anchoring it (a late frame leaves half a period
    after the one before, as the server's pump lets a late stream catch up at twice real
    time); `on_elapsed`: callbacks keyed by seconds from the first frame."""
    departures: list[Departure] = []
    start: float | None = None
    last_arrival: float | None = None
    previous: NDArray[np.uint8] | None = None
    pending = sorted(on_elapsed.items(), key=lambda kv: kv[0])
    async for frame in stream.frames():
        now = time.monotonic()
        start = now if start is None else start
        while pending and now - start >= pending[0][0]:
            pending.pop(0)[1]()
        latencies = []
        if frame.audio_arrival_s is not None and frame.audio_arrival_s != last_arrival:
            latencies.append(now - frame.audio_arrival_s)
            last_arrival = frame.audio_arrival_s
        repeated = previous is not None and frame.video is previous
        departures.append(Departure(now, latencies, repeated))
        previous = frame.video
        if frame.index + 1 >= seconds * fps:
            break
        next_s = max(start + (frame.index + 1) / fps, now + CATCH_UP_PERIOD_FRAMES / fps)
        await asyncio.sleep(max(0.0, next_s - time.monotonic()))
    return departures


def load_windows(departures: list[Departure], load_s: float) -> list[LoadWindow]:
    """Per LOAD_WINDOW_S of the call: delay, frames/s, p95 gap between departures."""
    if not departures:
        return []
    first = departures[0].at_s
    windows = []
    begin = 0.0
    end_s = departures[-1].at_s - first
    while begin < end_s:
        inside = [d for d in departures if begin <= d.at_s - first < begin + LOAD_WINDOW_S]
        times = np.array([d.at_s for d in inside])
        gaps_ms = 1000.0 * np.diff(times) if len(times) > 1 else np.array([np.nan])
        latencies = [x for d in inside for x in d.latencies_s]
        span = min(LOAD_WINDOW_S, end_s - begin)
        windows.append(
            LoadWindow(
                begin,
                1000.0 * float(np.median(latencies)) if latencies else float("nan"),
                len(inside) / span if span > 0 else float("nan"),
                float(np.percentile(gaps_ms, 95)),
                sum(d.repeated for d in inside),
                len(inside),
                begin < load_s,
            )
        )
        begin += LOAD_WINDOW_S
    return windows


async def run_load_trial(
    engine: StreamEngine,
    avatar: PreparedAvatar,
    options: StreamOptions,
    seconds: float,
    load: int,
    uploads: list[Callable[[], object]] | None = None,
) -> list[LoadWindow]:
    """One live stream from a real-time source for `seconds` with `load` CPU-bound processes
    beside it, then RECOVER_S more without them. `uploads`: callables started (each in its
    own thread) spread over the loaded part, e.g. avatar preparations."""
    import threading

    stream = engine.create_stream(avatar, options)
    processes = busy_processes(load)
    threads: list[threading.Thread] = []

    def start_upload(work: Callable[[], object]) -> None:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)

    events: dict[float, Callable[[], object]] = {seconds: lambda: stop_processes(processes)}
    for i, work in enumerate(uploads or []):
        at = seconds * (i + 1) / (len(uploads or []) + 1)
        events[at] = functools.partial(start_upload, work)
    total_s = seconds + RECOVER_S
    source = asyncio.create_task(_source(stream, total_s + 1.0, burst=False))
    try:
        departures = await _load_consumer(stream, total_s, options.fps, events)
    finally:
        stop_processes(processes)
        source.cancel()
        await stream.close()
    for thread in threads:
        thread.join()
    return load_windows(departures, seconds)


def print_load_windows(windows: list[LoadWindow], load: int, uploads: int) -> None:
    print(
        f"1 stream, real-time 20 ms chunks, {load} busy process(es) and {uploads} upload(s) "
        f"for the loaded windows, then none; per {LOAD_WINDOW_S:.0f} s window:"
    )
    for w in windows:
        print(
            f"  {w.start_s:5.1f} s {'loaded' if w.loaded else 'quiet '}: delay p50 "
            f"{w.delay_ms:6.0f} ms, {w.fps:5.1f} fps, frame gap p95 {w.gap_p95_ms:5.0f} ms, "
            f"{w.repeated:3d} repeated of {w.frames}"
        )
    loaded = [w for w in windows if w.loaded and not np.isnan(w.delay_ms)]
    if len(loaded) >= 2:
        spread, trend = spread_and_trend([w.start_s for w in loaded], [w.delay_ms for w in loaded])
        print(
            f"  loaded: delay spread {spread:.0f} ms between windows, "
            f"trend {trend:+.0f} ms per window; lowest "
            f"{min(w.fps for w in loaded):.1f} fps, worst frame gap p95 "
            f"{max(w.gap_p95_ms for w in loaded):.0f} ms"
        )


@dataclass(frozen=True)
class StreamBenchOptions:
    """What `gioconda bench stream` measures (server/commands/bench.py parses it)."""

    image: Path | None = None  # portrait or .avatar.npz
    seconds: float = 12.0  # per trial
    profile: str = "low-latency"
    fps: int = 40
    max_streams: int = 4  # try 1, 2, ... up to this
    streams: tuple[int, ...] | None = None  # stream counts to try instead
    workers: int = 1  # model worker threads
    motion_backend: str | None = None  # None: the decoder's (auto)
    distinct_avatars: bool = False  # each stream on its own avatar copy
    outputs: str = "video"  # video, blendshapes, or video,blendshapes (comma-separated)
    weights: Path | None = None  # motion model checkpoint
    threads: int = 1
    background_load: int | None = None  # one real-time stream beside N CPU-bound processes
    uploads: int = 0  # with background_load: portraits prepared during the loaded part


def run(args: StreamBenchOptions) -> int:
    torch.set_num_threads(args.threads)
    profile = get_profile(args.profile)
    outputs = tuple(name.strip() for name in args.outputs.split(","))
    options = StreamOptions(profile=args.profile, fps=args.fps, outputs=outputs)
    validate_options(options)
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
        freeze_long_lived()  # as the server does after its warm-up
        print(
            f"stream benchmark: profile {profile.name} (W={profile.window_frames}, "
            f"P={profile.context_frames}, L={profile.lookahead_frames} motion frames of 40 ms, "
            f"{profile.sampling_steps} steps; algorithmic latency {profile.algorithmic_latency_ms}"
            f" ms), {args.fps} fps, {args.threads} thread(s), {args.workers} worker(s), "
            f"{'one avatar per stream' if args.distinct_avatars else 'one shared avatar'}, "
            f"outputs {'+'.join(outputs)}, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        if args.background_load is not None:
            from engine.avatar.worker import PreparationWorker

            worker = PreparationWorker(max_waiting=args.uploads)
            uploads = [_upload_work(args.image, worker) for _ in range(args.uploads)]
            try:
                windows = asyncio.run(
                    run_load_trial(
                        engine, avatar, options, args.seconds, args.background_load, uploads
                    )
                )
            finally:
                worker.close()
            print_load_windows(windows, args.background_load, args.uploads)
            return 0
        best = asyncio.run(_trials(engine, avatar, options, args))
    finally:
        engine.close()
    print(f"simultaneous {args.fps} fps streams sustained on this machine: {best}")
    return 0


def _upload_work(image: Path | None, worker: PreparationWorker) -> Callable[[], object]:
    """What one upload costs the server: a portrait prepared as POST /v1/avatars does, in the
    preparation worker process (engine/avatar/worker.py)."""
    from engine.avatar.source import DEFAULT_PORTRAIT

    path = image if image is not None and image.suffix != ".npz" else DEFAULT_PORTRAIT
    return functools.partial(worker.prepare, path.read_bytes())


def _motion_config(args: StreamBenchOptions, model: MotionModel, tmp: Path) -> BackendConfig | None:
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
) -> tuple[float, float]:
    """(frames/s, process CPU ms per frame) of one stream with no pacing (an offline stream on
    speech): the capacity that real time (options.fps) leaves as headroom, and the CPU a frame
    costs, which other processes competing for the cores do not inflate as they do wall time."""
    stream = engine.create_stream(avatar, options, realtime=False)
    stream.push_audio(speech_like(seconds), RATE_HZ)
    stream.end_segment()
    start, cpu_start = time.monotonic(), time.process_time()
    frames = 0
    async for _ in stream.frames():
        frames += 1
        if frames >= seconds * options.fps:
            break
    elapsed, cpu_s = time.monotonic() - start, time.process_time() - cpu_start
    await stream.close()
    return frames / elapsed, 1000.0 * cpu_s / max(1, frames)


async def _trials(
    engine: StreamEngine, avatar: PreparedAvatar, options: StreamOptions, args: StreamBenchOptions
) -> int:
    capacity, cpu_ms = await throughput_fps(engine, avatar, options, min(args.seconds, 8.0))
    print(
        f"1 stream, unpaced (offline): {capacity:.1f} frames/s sustained, "
        f"{capacity / options.fps:.2f}x the {options.fps} fps real time; {cpu_ms:.1f} ms of CPU "
        f"per frame: a {options.fps} fps session needs {cpu_ms * options.fps / 10:.0f}% of a core"
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
