"""Secrets never reach the logs: credentials in query strings (`?api_key=`, `?ticket=`,
`?token=`) are replaced by `REDACTED` in uvicorn's access and websocket log lines, whatever a
client chose to put in its URL."""

from __future__ import annotations

import logging
import re

SECRET_QUERY = re.compile(
    r"([?&](?:api_key|apikey|key|token|session_token|access_token|ticket)=)[^&\s\"']*",
    re.IGNORECASE,
)
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn")


def redact(text: str) -> str:
    return SECRET_QUERY.sub(r"\1REDACTED", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction() -> None:
    """Idempotent: one filter on each uvicorn logger (filters on a logger see its own records)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
