"""`gioconda serve`: the streaming server (web client at /, WebRTC sessions, agent speech API)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from server.commands.arg_types import positive_int
from server.settings import IceLoopback


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the streaming server (open the printed URL in a browser)",
        description="Serve the web client and the /v1 API. Every option can also be set with a "
        "GIOCONDA_* environment variable (GIOCONDA_PORT, GIOCONDA_API_KEY, GIOCONDA_MAX_SESSIONS, "
        "GIOCONDA_ICE_SERVERS='[\"stun:host:3478\"]', ...); flags win.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--avatar", help="default avatar id (astronaut, mona-lisa, ...)")
    parser.add_argument(
        "--profile", help="motion profile: low-latency (default), balanced or quality"
    )
    parser.add_argument("--data-dir", type=Path, help="avatar store folder")
    parser.add_argument("--max-sessions", type=int, help="concurrent sessions (default 2)")
    parser.add_argument("--api-key", help="require this key on /v1 (Authorization: Bearer KEY)")
    parser.add_argument(
        "--ice-loopback",
        choices=[m.value for m in IceLoopback],
        help="offer 127.0.0.1 ICE candidates: add (default), only (never other addresses), off",
    )
    parser.add_argument("--ice-server", action="append", help="STUN/TURN URL (repeatable)")
    parser.add_argument("--no-ai-label", action="store_true", help="do not draw the AI label")
    parser.add_argument(
        "--backend",
        choices=["auto", "torch-cpu", "torch-cuda", "onnxruntime", "tensorrt"],
        help="decoder backend (default auto: torch-cpu without a GPU)",
    )
    parser.add_argument(
        "--motion-backend",
        choices=["auto", "torch-cpu", "torch-cuda", "onnxruntime", "tensorrt"],
        help="motion denoiser backend (default: the same as --backend)",
    )
    parser.add_argument("--workers", type=positive_int, help="model worker threads (default 1)")
    parser.add_argument("--export-dir", type=Path, help="artifacts of `gioconda export`")
    parser.add_argument("--precision", choices=["fp32", "fp16", "bf16"], help="GPU precision")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.settings import ServerSettings

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "default_avatar": args.avatar,
        "profile": args.profile,
        "data_dir": args.data_dir,
        "max_sessions": args.max_sessions,
        "api_key": args.api_key,
        "ice_loopback": args.ice_loopback,
        "ice_servers": args.ice_server,
        "backend": args.backend,
        "motion_backend": args.motion_backend,
        "engine_workers": args.workers,
        "export_dir": args.export_dir,
        "precision": args.precision,
    }
    if args.no_ai_label:
        overrides["ai_label"] = False
    try:
        settings = ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:  # GIOCONDA_* variables are read here too
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            print(f"gioconda serve: setting {name}: {error['msg']}", file=sys.stderr)
        return 2
    app = create_app(settings)
    print(f"Gioconda: open http://{settings.host}:{settings.port}/ (ready when /readyz is true)")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        ws_max_size=4 * settings.ws_max_message_bytes,
    )
    return 0
