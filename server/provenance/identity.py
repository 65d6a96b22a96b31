"""The server's watermark id: configured (GIOCONDA_WATERMARK_SERVER_ID), or made once and kept.

A server without a configured id draws one at first start and writes it to
DATA_DIR/watermark_server_id, so marks made before and after a restart name the same server.
Id 0 is left to frames made outside a server (tests, benchmarks): "Gioconda, unattributed".
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from engine.watermark.payload import SERVER_ID_BITS

log = logging.getLogger(__name__)

SERVER_ID_FILE = "watermark_server_id"


def watermark_server_id(data_dir: Path, configured: int | None = None) -> int:
    if configured is not None:
        return configured
    path = data_dir / SERVER_ID_FILE
    try:
        return _parse(path.read_text(), path)
    except FileNotFoundError:
        pass
    server_id = 1 + secrets.randbelow((1 << SERVER_ID_BITS) - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{server_id}\n")
    log.info("watermark server id %d drawn and kept in %s", server_id, path)
    return server_id


def _parse(text: str, path: Path) -> int:
    try:
        server_id = int(text.strip())
    except ValueError:
        server_id = -1
    if not 1 <= server_id < 1 << SERVER_ID_BITS:
        raise ValueError(f"{path} must hold a server id in 1..{(1 << SERVER_ID_BITS) - 1}")
    return server_id
