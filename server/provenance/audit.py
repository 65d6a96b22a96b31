"""The consent audit: one row per session or render, kept in DATA_DIR/audit.sqlite3.

Each row says which avatar was animated, under which consent record, when it started and ended,
and the invisible watermark's payload: a clip found in the wild with `gioconda detect` leads to
its row (GET /v1/audit?watermark=PAYLOAD). Rows older than the retention setting
(GIOCONDA_AUDIT_RETENTION_DAYS) are deleted whenever a row is added and at start.

Consent record ids: `avatar-store:ID` (an uploaded portrait: the store's row holding the
uploader's consent attestation), `builtin:ID` (a shipped public-domain portrait, no consent
needed), `operator-file:sha256:HEX` (`gioconda render` on an image file of the operator's, whose
consent the operator answers for; the hash names the exact file).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.avatar.store import AvatarRecord

AUDIT_FILE = "audit.sqlite3"
MAX_ROWS_PER_QUERY = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    avatar_id TEXT NOT NULL,
    consent_record_id TEXT NOT NULL,
    watermark TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    end_cause TEXT
)
"""


@dataclass(frozen=True)
class AuditEntry:
    id: str  # session id, or "render:" + the watermark's stream id and start time
    kind: str  # "session" | "render"
    avatar_id: str
    consent_record_id: str
    watermark: str
    started_at: str  # ISO 8601 UTC
    ended_at: str | None
    end_cause: str | None


def consent_record_id(record: AvatarRecord) -> str:
    return f"builtin:{record.id}" if record.builtin else f"avatar-store:{record.id}"


def file_consent_record_id(path: Path) -> str:
    return f"operator-file:sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class AuditLog:
    def __init__(self, data_dir: Path, retention_days: float) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._path = data_dir / AUDIT_FILE
        self._retention = datetime.timedelta(days=retention_days)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(_SCHEMA)
        self.purge()

    def start(
        self, entry_id: str, kind: str, avatar_id: str, consent_id: str, watermark: str
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO audit (id, kind, avatar_id, consent_record_id, watermark, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (entry_id, kind, avatar_id, consent_id, watermark, utc_now()),
            )
        self.purge()

    def end(self, entry_id: str, cause: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE audit SET ended_at = ?, end_cause = ? WHERE id = ? AND ended_at IS NULL",
                (utc_now(), cause, entry_id),
            )

    def entries(self, watermark: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first; only those with this watermark payload when one is given."""
        query = "SELECT * FROM audit"
        params: list[Any] = []
        if watermark:
            query += " WHERE watermark = ?"
            params.append(watermark.lower())
        query += " ORDER BY started_at DESC LIMIT ?"
        params.append(max(1, min(limit, MAX_ROWS_PER_QUERY)))
        with self._connect() as db:
            return [AuditEntry(*row) for row in db.execute(query, params).fetchall()]

    def purge(self) -> int:
        """Delete rows that ended (or, still open, started) before the retention window."""
        cutoff = (datetime.datetime.now(datetime.UTC) - self._retention).isoformat(
            timespec="seconds"
        )
        with self._connect() as db:
            return db.execute(
                "DELETE FROM audit WHERE COALESCE(ended_at, started_at) < ?", (cutoff,)
            ).rowcount

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One short connection per call (callers are the event loop and worker threads),
        committed and closed at the end."""
        with self._lock, contextlib.closing(sqlite3.connect(self._path, timeout=10)) as db:
            with db:
                yield db
