"""`POST /v1/detect` (multipart `file`): the watermark verdict on an uploaded video or image.

The upload is capped at settings.max_detect_bytes (413 beyond), spooled to a temporary file and
inspected off the event loop; the answer is the same JSON as `gioconda detect --json`.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, UploadFile

from engine.watermark.inspect import inspect_file
from server.errors import ServerError
from server.provenance.manifest import read_manifest
from server.tokens import Grant, grant_required

router = APIRouter(prefix="/v1/detect")
CHUNK_BYTES = 1 << 20


@router.post("", dependencies=[grant_required(Grant.DETECT)])
async def detect(request: Request, file: UploadFile) -> dict[str, Any]:
    cap: int = request.app.state.settings.max_detect_bytes
    suffix = Path(file.filename or "").suffix[:16]
    with tempfile.NamedTemporaryFile(suffix=suffix) as spool:
        size = 0
        while chunk := await file.read(CHUNK_BYTES):
            size += len(chunk)
            if size > cap:
                raise ServerError(
                    f"the upload is over the {cap / 1e6:.1f} MB limit of /v1/detect",
                    "too_many_bytes",
                )
            spool.write(chunk)
        spool.flush()
        if size == 0:
            raise ServerError("the upload is empty", "bad_media")
        verdict = await asyncio.to_thread(inspect_file, Path(spool.name))
        manifest = await asyncio.to_thread(read_manifest, Path(spool.name))
    return {**verdict.summary(), "c2pa": manifest}
