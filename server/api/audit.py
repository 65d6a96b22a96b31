"""`GET /v1/audit[?watermark=PAYLOAD&limit=N]`: the consent audit, newest first (API key only).

The audit names who was animated and under which consent record, so it is never open: a server
without GIOCONDA_API_KEY answers 403 here, and with one the /v1 guard has already checked it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request

from server.errors import ServerError
from server.provenance.audit import MAX_ROWS_PER_QUERY, AuditLog
from server.tokens import require_api_key_if_set

router = APIRouter(prefix="/v1/audit")
QUERY_PARAMETERS = frozenset({"watermark", "limit"})


@router.get("", dependencies=[Depends(require_api_key_if_set)])
async def list_audit(
    request: Request, watermark: str | None = None, limit: int = 100
) -> dict[str, Any]:
    settings = request.app.state.settings
    if not settings.api_key:
        raise ServerError(
            "the audit is served only by a server that has an API key (set GIOCONDA_API_KEY)",
            "audit_needs_api_key",
        )
    unknown = sorted(set(request.query_params) - QUERY_PARAMETERS)
    if unknown:  # a misspelt filter must not silently list everything
        raise ServerError(
            f"unknown query parameter(s) {unknown}; the audit takes {sorted(QUERY_PARAMETERS)}",
            "bad_request",
        )
    if not 1 <= limit <= MAX_ROWS_PER_QUERY:
        raise ServerError(f"limit must be in 1..{MAX_ROWS_PER_QUERY}", "bad_limit")
    audit: AuditLog = request.app.state.audit
    entries = await asyncio.to_thread(audit.entries, watermark, limit)
    return {
        "retention_days": settings.audit_retention_days,
        "entries": [dataclasses.asdict(entry) for entry in entries],
    }
