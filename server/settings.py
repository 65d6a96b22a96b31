"""Server configuration, assembled in one place from GIOCONDA_* environment variables.

Every input cap lives here, with the 4xx it produces when exceeded documented in server/errors.py.
`gioconda serve` flags override the environment.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.avatar.store import DEFAULT_STORE_DIR


class IceLoopback(StrEnum):
    """Whether the server offers 127.0.0.1 ICE candidates (aioice skips loopback by default).

    off: aioice's own host addresses only. add: those plus 127.0.0.1 (a browser on the same
    machine connects over loopback). only: 127.0.0.1 alone (tests and benchmarks: traffic never
    leaves loopback)."""

    OFF = "off"
    ADD = "add"
    ONLY = "only"


class VideoCodec(StrEnum):
    VP8 = "vp8"
    H264 = "h264"


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GIOCONDA_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = DEFAULT_STORE_DIR
    default_avatar: str = "astronaut"
    profile: str = "low-latency"
    fps: int = 40
    engine_threads: int = 1
    # Model worker threads, each serving its share of the sessions. 1 suits a CPU machine (one
    # core does it all); on a GPU machine more run the sessions' CPU-side work in parallel.
    engine_workers: int = Field(default=1, ge=1)
    motion_weights: Path | None = None  # default: the committed models/weights/motion_S.pt
    # Decoder backend: auto = torch-cpu without CUDA; with CUDA the first that works of
    # tensorrt -> torch-cuda -> onnxruntime -> torch-cpu (engine/backends/select.py logs which).
    backend: str = "auto"
    # The motion denoiser's backend; unset: the same as `backend`. On a CPU, onnxruntime runs it
    # about 2x faster than torch while torch stays the faster decoder (docs/benchmarks.md).
    motion_backend: str | None = None
    export_dir: Path | None = None  # what `gioconda export` wrote (ONNX graphs, TensorRT engines)
    precision: str = "fp32"  # fp16/bf16 on torch-cuda and TensorRT
    max_batch: int = 8
    # One decoder call for the frames of sessions on different avatars (torch backends);
    # unset: on where the decoder runs on CUDA, off on a CPU (where it costs more than it saves).
    stack_avatars: bool | None = None
    warm_up: bool = True  # /readyz is true only after one warm-up inference

    api_key: str | None = None  # when set, /v1 needs "Authorization: Bearer KEY" (or ?api_key=)
    ice_servers: list[str] = Field(default_factory=list)  # e.g. ["stun:stun.example.org:3478"]
    ice_loopback: IceLoopback = IceLoopback.ADD
    ai_label: bool = True  # draw "AI-generated" on every video frame
    ai_label_text: str = "AI-generated"

    max_sessions: int = 2
    max_sdp_bytes: int = 20_000
    max_upload_bytes: int = 10_000_000
    max_upload_pixels: int = 25_000_000
    session_connect_timeout_s: float = 30.0  # offer answered, but the peer never connected
    session_idle_timeout_s: float = 120.0  # no audio, control or speech message for this long
    session_max_duration_s: float = 3600.0
    ws_max_message_bytes: int = 64_000  # 2 s of 16 kHz int16 PCM
    ws_max_messages_per_s: float = 200.0  # sustained; bursts up to 2x are allowed
    ws_max_sample_rate_hz: int = 48_000
    ws_min_sample_rate_hz: int = 8_000
