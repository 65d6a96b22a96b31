"""`gioconda bench webrtc`: end-to-end latency, fps and CPU of one session over loopback.

Starts `gioconda serve` in a child process (loopback ICE only) unless --url names a running
server, calls it with an aiortc client, and sends short speech bursts with a sharp onset over the
agent speech websocket, each after silence. Latency of a burst = arrival at the client of the
first decoded frame whose mouth (re-detected MediaPipe landmarks) has opened, minus the time
the burst's first sample was sent. Also printed: received fps, the server's CPU use (cores) with
this one session, and the server's own audio-arrival -> frame-departure latency from /metrics.
"""

from __future__ import annotations

import argparse
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

from engine.motion.profiles import PROFILES, get_profile
from server.clients.speak_client import load_pcm, speech_url
from server.clients.webrtc_client import call_server
from server.settings import IceLoopback
from server.transport.webrtc import configure_ice_loopback

RATE_HZ = 16_000
CHUNK_S = 0.02
ANALYSIS_PX = 256  # frames are landmarked at this size: enough for the mouth, 4x cheaper
WINDOW_BEFORE_S = 0.5
WINDOW_AFTER_S = 1.6
MIN_MOUTH_SWING = 0.03  # inner-lip gap / mouth width; a burst with less is "not detected"
SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared/data/speech/lj050-0131.wav"
# MediaPipe face mesh indices (as models.face_topology names them)
INNER_LIP_UPPER, INNER_LIP_LOWER, MOUTH_CORNER_A, MOUTH_CORNER_B = 13, 14, 61, 291


@dataclass
class Burst:
    sent_s: float  # time.monotonic() of its first sample
    frames: list[tuple[float, NDArray[np.uint8]]] = field(default_factory=list)


@dataclass
class Recorder:
    """Keeps the frames that arrive inside a burst's analysis window."""

    bursts: list[Burst] = field(default_factory=list)
    window_open_s: float | None = None
    window_frames: list[tuple[float, NDArray[np.uint8]]] = field(default_factory=list)
    first_frame_s: float | None = None
    frames: int = 0

    def on_frame(self, frame: av.VideoFrame, arrival_s: float) -> None:
        self.frames += 1
        self.first_frame_s = self.first_frame_s or arrival_s
        if self.window_open_s is not None:
            small = frame.reformat(width=ANALYSIS_PX, height=ANALYSIS_PX, format="rgb24")
            self.window_frames.append((arrival_s, np.asarray(small.to_ndarray(), np.uint8)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="a running server (default: start one here)")
    parser.add_argument("--bursts", type=int, default=8, help="speech bursts to measure")
    parser.add_argument("--burst-s", type=float, default=0.8, help="length of each burst")
    parser.add_argument("--gap-s", type=float, default=2.2, help="silence between bursts")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="low-latency")
    parser.add_argument("--audio", type=Path, help="speech file the bursts are cut from")
    parser.add_argument("--avatar", default="default", help="avatar id")


def run(args: argparse.Namespace) -> int:
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
class Report:
    latencies_s: list[float]
    undetected: int
    fps: float
    server_cpu_cores: float | None
    server_latency_mean_s: float | None
    frames: int


async def measure(
    url: str, pid: int | None, burst: NDArray[np.int16], args: argparse.Namespace
) -> Report:
    recorder = Recorder()
    options = {"profile": args.profile}
    call = await call_server(url, recorder.on_frame, avatar_id=args.avatar, options=options)
    try:
        await asyncio.sleep(3.0)  # connect, settle into idle
        cpu_start, wall_start = _cpu_s(pid), time.monotonic()
        frames_start = recorder.frames
        async with websockets.connect(speech_url(url, call.session_id)) as ws:
            for _ in range(args.bursts):
                recorder.bursts.append(await _send_burst(ws, recorder, burst, args.gap_s))
        wall = time.monotonic() - wall_start
        fps = (recorder.frames - frames_start) / wall
        cpu_end = _cpu_s(pid)
        cpu = None if cpu_start is None or cpu_end is None else (cpu_end - cpu_start) / wall
        server_latency = await _server_latency(url)
    finally:
        await call.close()
    latencies = [onset_latency(b) for b in recorder.bursts]
    found = [x for x in latencies if x is not None]
    return Report(found, len(latencies) - len(found), fps, cpu, server_latency, recorder.frames)


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


async def _server_latency(url: str) -> float | None:
    async with httpx.AsyncClient(base_url=url) as client:
        text = (await client.get("/metrics")).text
    values = {}
    for line in text.splitlines():
        for name in ("gioconda_frame_latency_seconds_sum", "gioconda_frame_latency_seconds_count"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    count = values.get("gioconda_frame_latency_seconds_count", 0.0)
    return values["gioconda_frame_latency_seconds_sum"] / count if count else None


def print_report(report: Report, args: argparse.Namespace) -> None:
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
    if report.server_latency_mean_s is not None:
        print(
            f"server latency (audio arrival -> frame departure, /metrics mean): "
            f"{1000 * report.server_latency_mean_s:.0f} ms"
        )
    print(f"received {report.fps:.1f} fps at 512x512 ({report.frames} frames)")
    if report.server_cpu_cores is not None:
        print(f"server CPU with one session: {report.server_cpu_cores:.2f} cores")
