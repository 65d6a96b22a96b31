"""The optional API key for /v1: `Authorization: Bearer KEY`, `X-API-Key: KEY` or `?api_key=KEY`
(browsers cannot set headers on a websocket)."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection


def _presented_key(connection: HTTPConnection) -> str:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return connection.headers.get("x-api-key") or connection.query_params.get("api_key") or ""


def authorized(connection: HTTPConnection, api_key: str | None) -> bool:
    if not api_key:
        return True
    return hmac.compare_digest(_presented_key(connection).encode(), api_key.encode())
