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

    # Servers' credential (server/tokens.py): with it set, avatars and new sessions need the key
    # or a client token; session routes always need the session's token (or the key).
    api_key: str | None = None
    # Serve a non-loopback address without an API key (gioconda serve refuses otherwise).
    insecure: bool = False
    session_token_ttl_s: float = Field(default=900.0, gt=0)  # renewed with itself before then
    client_token_max_ttl_s: float = Field(default=3600.0, gt=0)
    # SIGTERM: stop taking sessions, let live calls go on this long, then exit (server/drain.py).
    drain_timeout_s: float = Field(default=30.0, ge=0)
    ice_servers: list[str] = Field(default_factory=list)  # e.g. ["stun:stun.example.org:3478"]
    ice_loopback: IceLoopback = IceLoopback.ADD
    ai_label: bool = True  # draw "AI-generated" on every video frame
    ai_label_text: str = "AI-generated"
    # The invisible watermark's server id (engine.watermark.payload); unset: drawn at first start
    # and kept in DATA_DIR/watermark_server_id (server/provenance/identity.py).
    watermark_server_id: int | None = Field(default=None, ge=1, le=65535)
    max_detect_bytes: int = 200_000_000  # POST /v1/detect upload cap
    # C2PA signing of `gioconda render` MP4s: both unset -> a local chain made at first start
    # in DATA_DIR/c2pa (server/provenance/signing.py); both set -> the operator's PEM files.
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None
    c2pa_alg: str = "es256"
    audit_retention_days: float = Field(default=90.0, gt=0)  # consent audit rows kept this long

    max_sessions: int = 2
    # Admission by measured capacity (server/admission.py): a new session is refused while one
    # more would load a model worker past this share of its time; 0 turns the check off.
    admit_max_load: float = Field(default=0.9, ge=0.0)
    max_sdp_bytes: int = 20_000
    max_upload_bytes: int = 10_000_000
    max_upload_pixels: int = 25_000_000
    max_json_bytes: int = 64_000  # any other request body (PATCH, tokens, ...)
    ws_max_json_depth: int = 8  # nesting of a websocket or data channel JSON message
    session_connect_timeout_s: float = 30.0  # offer answered, but the peer never connected
    session_idle_timeout_s: float = 120.0  # no audio, control or speech message for this long
    session_max_duration_s: float = 3600.0
    ws_max_message_bytes: int = 64_000  # 2 s of 16 kHz int16 PCM
    ws_max_messages_per_s: float = 200.0  # sustained; bursts up to 2x are allowed
    ws_max_sample_rate_hz: int = 48_000
    ws_min_sample_rate_hz: int = 8_000
    # POST /v1/sessions/{id}/say: the built-in voice (auto: Piper's neural voice where installed,
    # else espeak-ng) and the longest text one request may carry (~1 minute of speech).
    voice: str = "auto"
    say_max_chars: int = Field(default=1_000, ge=1, le=2_000)
