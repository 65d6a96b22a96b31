"""`gioconda bench webrtc`: end-to-end latency, fps and CPU of one session over loopback.

Starts `gioconda serve` in a child process (loopback ICE only) unless --url names a running
server, calls it with an aiortc client, and sends short speech bursts with a sharp onset over the
agent speech websocket, each after silence. Latency of a burst = arrival at the client of the
first decoded frame whose mouth (re-detected MediaPipe landmarks) has opened, minus the time
the burst's first sample was sent. Also printed, all measured over the bursts only (no
lifetime means): received fps and the p95 gap between received frames (the client's own
clock), the server's CPU use (cores, from its /metrics process_cpu_seconds_total, so also with
--url) and the server's own audio-arrival -> frame-departure delay over its last 30 s (the
/metrics window histogram, p50 and p95 as bucket bounds).

--background-load N [--uploads K]: issue 13's check from the outside. N CPU-bound processes run
beside the server (and K different portraits are uploaded to it, spread over the loaded part)
while --bursts bursts are measured, then --recover-bursts more without them; one line per burst
(latency, received fps and frame gap p95 until the next burst) and per 4 s window of the loaded
part the latency spread and trend.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
import numpy as np
import websockets
from numpy.typing import NDArray

from engine.bench.windows import LOAD_WINDOW_S, spread_and_trend
from engine.motion.profiles import get_profile
from server.clients.speak_client import load_pcm, speech_url
from server.clients.webrtc_client import call_server
from server.settings import IceLoopback
from server.transport.webrtc import configure_ice_loopback

log = logging.getLogger(__name__)
RATE_HZ = 16_000
CHUNK_S = 0.02
ANALYSIS_PX = 256  # frames are landmarked at this size: enough for the mouth, 4x cheaper
WINDOW_BEFORE_S = 0.5
WINDOW_AFTER_S = 1.6
MIN_MOUTH_SWING = 0.03  # inner-lip gap / mouth width; a burst with less is "not detected"
UPLOAD_PORTRAIT = Path(__file__).resolve().parents[2] / "engine" / "assets" / "mona_lisa.jpg"
SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared/data/speech/lj050-0131.wav"
# MediaPipe face mesh indices (as models.face_topology names them)
INNER_LIP_UPPER, INNER_LIP_LOWER, MOUTH_CORNER_A, MOUTH_CORNER_B = 13, 14, 61, 291


@dataclass
class Burst:
    sent_s: float  # time.monotonic() of its first sample
    frames: list[tuple[float, NDArray[np.uint8]]] = field(default_factory=list)
    loaded: bool = False  # sent while the background load ran


@dataclass
class Recorder:
    """Keeps the frames that arrive inside a burst's analysis window."""

    bursts: list[Burst] = field(default_factory=list)
    window_open_s: float | None = None
    window_frames: list[tuple[float, NDArray[np.uint8]]] = field(default_factory=list)
    first_frame_s: float | None = None
    frames: int = 0
    arrivals_s: list[float] = field(default_factory=list)

    def on_frame(self, frame: av.VideoFrame, arrival_s: float) -> None:
        self.frames += 1
        self.arrivals_s.append(arrival_s)
        self.first_frame_s = self.first_frame_s or arrival_s
        if self.window_open_s is not None:
            small = frame.reformat(width=ANALYSIS_PX, height=ANALYSIS_PX, format="rgb24")
            self.window_frames.append((arrival_s, np.asarray(small.to_ndarray(), np.uint8)))


@dataclass(frozen=True)
class WebrtcBenchOptions:
    """What `gioconda bench webrtc` measures (server/commands/bench.py parses it)."""

    url: str | None = None  # a running server; None: start one here
    bursts: int = 8  # speech bursts to measure
    burst_s: float = 0.8  # length of each burst
    gap_s: float = 2.2  # silence between bursts
    profile: str = "low-latency"
    audio: Path | None = None  # speech file the bursts are cut from
    avatar: str = "default"  # avatar id
    background_load: int = 0  # CPU-bound processes beside the server during --bursts
    uploads: int = 0  # with background_load: portraits uploaded during the loaded bursts
    recover_bursts: int = 3  # with background_load: bursts measured after the load ends


def run(args: WebrtcBenchOptions) -> int:
    for noisy in ("httpx", "aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    configure_ice_loopback(IceLoopback.ONLY)  # the client offers 127.0.0.1 only
    burst = speech_burst(args.audio, args.burst_s)
    with tempfile.TemporaryDirectory() as scratch:
        server = None if args.url else start_server(Path(scratch))
        url = args.url or server_url(server)
        try:
            wait_ready(url)
            pid = server[0].pid if server else None
            report = asyncio.run(measure(url, pid, burst, args))
        finally:
            if server is not None:
                server[0].terminate()
                server[0].wait(30)
    print_report(report, args)
    return 0


def speech_burst(path: Path | None, seconds: float) -> NDArray[np.int16]:
    """`seconds` of speech that starts abruptly: cut from the file at its first loud sample."""
    if path is None:
        path = SHARED_SPEECH if SHARED_SPEECH.is_file() else _espeak_wav()
    pcm = load_pcm(path, RATE_HZ)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 0.1 * np.abs(pcm).max())
    start = int(loud[0]) if loud.size else 0
    return pcm[start : start + int(seconds * RATE_HZ)]


def _espeak_wav() -> Path:
    path = Path(tempfile.mkstemp(suffix=".wav")[1])
    text = "Hello! Papa bought a big blue map. Mama made more apple pie."
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return path


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "GIOCONDA_DATA_DIR": os.environ.get("GIOCONDA_DATA_DIR", "")}
    if not env["GIOCONDA_DATA_DIR"]:
        del env["GIOCONDA_DATA_DIR"]  # the default store: built-ins already prepared there
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    command += ["--ice-loopback", "only", "--max-sessions", "1"]
    log = open(data_dir / "server.log", "wb")  # the child writes it until it exits
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), port


def server_url(server: tuple[subprocess.Popen[bytes], int] | None) -> str:
    assert server is not None
    return f"http://127.0.0.1:{server[1]}"


def wait_ready(url: str, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not become ready in {timeout_s:.0f} s")


@dataclass(frozen=True)
class BurstRow:
    """One burst as the client saw it: until the next burst's first sample."""

    start_s: float  # since the first measured burst
    loaded: bool
    latency_s: float | None  # None: no mouth onset detected
    fps: float
    gap_p95_s: float
    gap_max_s: float  # a stall shows here; p95 hides one long gap among ~100


@dataclass(frozen=True)
class Report:
    latencies_s: list[float]
    undetected: int
    fps: float
    gap_p95_s: float
    server_cpu_cores: float | None
    server_delay_s: tuple[float, float] | None  # p50, p95 bucket bounds over its window
    frames: int
    rows: list[BurstRow] = field(default_factory=list)
    uploads_done: int = 0


async def measure(
    url: str, pid: int | None, burst: NDArray[np.int16], args: WebrtcBenchOptions
) -> Report:
    recorder = Recorder()
    pngs = distinct_portraits(args.uploads if args.background_load else 0)
    options = {"profile": args.profile}
    call = await call_server(url, recorder.on_frame, avatar_id=args.avatar, options=options)
    try:
        await asyncio.sleep(3.0)  # connect, settle into idle
        cpu_start, wall_start = await _server_cpu_s(url, pid), time.monotonic()
        frames_start = recorder.frames
        from engine.bench.stream import busy_processes, stop_processes  # torch: only here

        speech = speech_url(url, call.session_id)
        busy = busy_processes(args.background_load)
        uploads = [
            asyncio.create_task(_upload_later(url, i, png, args)) for i, png in enumerate(pngs)
        ]
        try:
            async with websockets.connect(speech, additional_headers=call.headers) as ws:
                for _ in range(args.bursts):
                    sent = await _send_burst(ws, recorder, burst, args.gap_s)
                    sent.loaded = bool(busy)
                    recorder.bursts.append(sent)
                stop_processes(busy)
                busy = []
                for _ in range(args.recover_bursts if args.background_load else 0):
                    recorder.bursts.append(await _send_burst(ws, recorder, burst, args.gap_s))
        finally:
            stop_processes(busy)
        uploads_done = sum(await asyncio.gather(*uploads))
        wall = time.monotonic() - wall_start
        fps = (recorder.frames - frames_start) / wall
        cpu_end = await _server_cpu_s(url, pid)
        cpu = None if cpu_start is None or cpu_end is None else (cpu_end - cpu_start) / wall
        server_delay = await _server_delay(url)
    finally:
        await call.close()
    arrivals = np.asarray(recorder.arrivals_s[frames_start:])
    gap_p95 = float(np.percentile(np.diff(arrivals), 95)) if len(arrivals) > 1 else float("nan")
    latencies = [onset_latency(b) for b in recorder.bursts]
    found = [x for x in latencies if x is not None]
    rows = burst_rows(recorder.bursts, latencies, recorder.arrivals_s)
    return Report(
        found,
        len(latencies) - len(found),
        fps,
        gap_p95,
        cpu,
        server_delay,
        recorder.frames,
        rows if args.background_load else [],
        uploads_done,
    )


def burst_rows(
    bursts: list[Burst], latencies_s: list[float | None], arrivals_s: list[float]
) -> list[BurstRow]:
    """Per burst: its latency, and the frames received from its first sample to the next's."""
    arrivals = np.asarray(arrivals_s)
    rows = []
    for i, (burst, latency) in enumerate(zip(bursts, latencies_s, strict=True)):
        end_s = bursts[i + 1].sent_s if i + 1 < len(bursts) else burst.sent_s + 2.0
        inside = arrivals[(arrivals >= burst.sent_s) & (arrivals < end_s)]
        gaps = np.diff(inside)
        rows.append(
            BurstRow(
                burst.sent_s - bursts[0].sent_s,
                burst.loaded,
                latency,
                len(inside) / (end_s - burst.sent_s),
                float(np.percentile(gaps, 95)) if len(gaps) else float("nan"),
                float(gaps.max()) if len(gaps) else float("nan"),
            )
        )
    return rows


def distinct_portraits(count: int) -> list[bytes]:
    """`count` PNGs of one portrait, each one pixel apart (the store keeps identical images
    once). Made before the call: encoding them on the client's loop would stall its frames."""
    import io

    from PIL import Image

    with Image.open(UPLOAD_PORTRAIT) as image:
        pixels = np.array(image.convert("RGB"))
    pngs = []
    for index in range(count):
        pixels[0, 0] = (index * 37 % 256, time.monotonic_ns() % 256, 7)
        png = io.BytesIO()
        Image.fromarray(pixels).save(png, format="PNG")
        pngs.append(png.getvalue())
    return pngs


async def _upload_later(url: str, index: int, png: bytes, args: WebrtcBenchOptions) -> int:
    """Upload a portrait a share of the way through the loaded bursts; 1 if the server took it."""
    cycle_s = WINDOW_BEFORE_S + args.burst_s + max(args.gap_s, WINDOW_AFTER_S - args.burst_s)
    await asyncio.sleep(args.bursts * cycle_s * (index + 1) / (args.uploads + 1))
    async with httpx.AsyncClient(timeout=300) as client:
        answer = await client.post(
            url + "/v1/avatars",
            files={"image": (f"upload{index}.png", png, "image/png")},
            data={"consent": "benchmark upload of a public-domain painting", "name": "bench"},
        )
    if answer.status_code != 201:
        log.warning("upload %d: %d %s", index, answer.status_code, answer.text[:200])
    return int(answer.status_code == 201)


async def _send_burst(
    ws: websockets.ClientConnection, recorder: Recorder, burst: NDArray[np.int16], gap_s: float
) -> Burst:
    recorder.window_frames = []
    recorder.window_open_s = time.monotonic()
    await asyncio.sleep(WINDOW_BEFORE_S)
    await ws.send(json.dumps({"type": "start", "sample_rate": RATE_HZ}))
    chunk = int(CHUNK_S * RATE_HZ)
    sent_s = time.monotonic()
    for i, begin in enumerate(range(0, len(burst), chunk)):
        await ws.send(burst[begin : begin + chunk].astype("<i2").tobytes())
        await asyncio.sleep(max(0.0, sent_s + (i + 1) * CHUNK_S - time.monotonic()))
    await ws.send(json.dumps({"type": "end"}))
    await asyncio.sleep(max(0.0, sent_s + WINDOW_AFTER_S - time.monotonic()))
    result = Burst(sent_s, recorder.window_frames)
    recorder.window_open_s = None
    await asyncio.sleep(max(0.0, gap_s - (WINDOW_AFTER_S - len(burst) / RATE_HZ)))
    return result


def onset_latency(burst: Burst) -> float | None:
    """Seconds from the burst's first sample to the first frame with the mouth opening."""
    from engine.avatar.landmarks import FaceModels

    models = FaceModels()
    try:
        timed = []
        for arrival_s, rgb in burst.frames:
            faces = models.face_landmarks(rgb)
            if faces:
                timed.append((arrival_s, mouth_opening(faces[0])))
    finally:
        models.close()
    before = [m for t, m in timed if t < burst.sent_s + 0.1]
    after = [(t, m) for t, m in timed if t >= burst.sent_s]
    if not before or not after:
        return None
    baseline = float(np.median(before))
    swing = max(m for _, m in after) - baseline
    if swing < MIN_MOUTH_SWING:
        return None
    threshold = baseline + max(MIN_MOUTH_SWING, 0.3 * swing)
    return next(t for t, m in after if m > threshold) - burst.sent_s


def mouth_opening(landmarks: NDArray[np.float32]) -> float:
    gap = np.linalg.norm(landmarks[INNER_LIP_UPPER, :2] - landmarks[INNER_LIP_LOWER, :2])
    width = np.linalg.norm(landmarks[MOUTH_CORNER_A, :2] - landmarks[MOUTH_CORNER_B, :2])
    return float(gap / width)


def _cpu_s(pid: int | None) -> float | None:
    """user + system CPU seconds of a process (Linux /proc)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _metrics_text(url: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get("/metrics")).text


async def _server_cpu_s(url: str, pid: int | None) -> float | None:
    """The server's CPU seconds so far: from its /metrics, else from /proc for a child."""
    for line in (await _metrics_text(url)).splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    return _cpu_s(pid)


async def _server_delay(url: str) -> tuple[float, float] | None:
    """p50 and p95 of the server's recent frame delay, as the upper bounds of their buckets."""
    prefix = "gioconda_frame_delay_window_seconds_bucket{le="
    buckets = []
    for line in (await _metrics_text(url)).splitlines():
        if line.startswith(prefix):
            bound = line[len(prefix) :].split('"')[1]
            buckets.append((float(bound), float(line.split()[-1])))
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None
    p50 = next(bound for bound, count in buckets if count >= 0.5 * total)
    p95 = next(bound for bound, count in buckets if count >= 0.95 * total)
    return p50, p95


def print_report(report: Report, args: WebrtcBenchOptions) -> None:
    profile = get_profile(args.profile)
    print(
        f"profile {profile.name}: W={profile.window_frames} P={profile.context_frames} "
        f"L={profile.lookahead_frames} motion frames, {profile.sampling_steps} steps; "
        f"algorithmic latency {profile.algorithmic_latency_ms} ms"
    )
    if report.latencies_s:
        ms = 1000 * np.asarray(report.latencies_s)
        print(
            f"end-to-end latency (speech sent -> frame with the mouth opening received): "
            f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms "
            f"over {len(ms)} bursts ({report.undetected} not detected)"
        )
    else:
        print(f"end-to-end latency: no mouth onset detected in {report.undetected} bursts")
    if report.server_delay_s is not None:
        p50, p95 = (1000 * x for x in report.server_delay_s)
        print(
            f"server delay (audio arrival -> frame departure, its last 30 s, bucket bounds): "
            f"p50 <= {p50:.0f} ms, p95 <= {p95:.0f} ms"
        )
    print(
        f"received {report.fps:.1f} fps at 512x512 during the bursts, frame gap p95 "
        f"{1000 * report.gap_p95_s:.0f} ms ({report.frames} frames in all)"
    )
    if report.server_cpu_cores is not None:
        print(f"server CPU with one session: {report.server_cpu_cores:.2f} cores")
    else:
        print("server CPU: not known (no process_cpu_seconds_total in its /metrics)")
    if report.rows:
        print_load_rows(report.rows, args, report.uploads_done)


def print_load_rows(rows: list[BurstRow], args: WebrtcBenchOptions, uploads_done: int) -> None:
    print(
        f"{args.background_load} busy process(es) and {uploads_done} of {args.uploads} "
        "upload(s) accepted during the loaded bursts, then none; per burst:"
    )
    for row in rows:
        latency = "  not detected" if row.latency_s is None else f"{1000 * row.latency_s:6.0f} ms"
        print(
            f"  {row.start_s:6.1f} s {'loaded' if row.loaded else 'quiet '}: latency {latency}, "
            f"{row.fps:5.1f} fps, frame gap p95 {1000 * row.gap_p95_s:4.0f} ms, "
            f"max {1000 * row.gap_max_s:4.0f} ms"
        )
    loaded = [r for r in rows if r.loaded and r.latency_s is not None]
    if len(loaded) < 2:
        return
    windows: dict[int, list[float]] = {}
    for row in loaded:
        window = int(row.start_s // LOAD_WINDOW_S)
        windows.setdefault(window, []).append(1000 * (row.latency_s or 0.0))
    order = sorted(windows)
    means_ms = [float(np.mean(windows[w])) for w in order]
    spread, trend = spread_and_trend([LOAD_WINDOW_S * w for w in order], means_ms)
    quiet = [r for r in rows if not r.loaded]
    print(
        f"  loaded: latency spread {spread:.0f} ms between {LOAD_WINDOW_S:.0f} s windows, trend "
        f"{trend:+.0f} ms per window; lowest {min(r.fps for r in rows if r.loaded):.1f} fps, "
        f"worst frame gap p95 {1000 * max(r.gap_p95_s for r in rows if r.loaded):.0f} ms, "
        f"longest {1000 * max(r.gap_max_s for r in rows if r.loaded):.0f} ms"
        + (f"; after the load {min(r.fps for r in quiet):.1f} fps at least" if quiet else "")
    )
