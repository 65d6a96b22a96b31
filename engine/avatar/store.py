"""Prepared avatars on disk: uploaded portraits and the built-in ones, metadata in SQLite.

Layout under `root`: `avatars.sqlite3` (one row per uploaded avatar, with the uploader's consent
attestation), `avatars/<id>.avatar.npz` (the prepared avatar) and `builtin/<id>.avatar.npz`
(built-in portraits, prepared on first use). Everything survives a restart. Preparation takes
about a second; callers on an event loop run add()/load() on a worker thread. The store is safe to
use from several threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from engine.avatar.image_io import MAX_FILE_BYTES, MAX_PIXELS
from engine.avatar.prepared import PreparedAvatar
from engine.avatar.source import ASSETS_DIR, AVATAR_SUFFIX, shipped_avatar
from engine.errors import AvatarError

DEFAULT_AVATAR_ID = "astronaut"
DEFAULT_STORE_DIR = Path.home() / ".local/share/gioconda"  # the server's and CLI's default
DEFAULT_ALIAS = "default"  # StreamOptions.avatar_id's default names the default avatar
MAX_NAME_CHARS = 80
MAX_CONSENT_CHARS = 1000
CACHED_AVATARS = 8  # prepared avatars kept in memory (a few MB each)

Preparer = Callable[[bytes, str], PreparedAvatar]  # (image bytes, name) -> prepared avatar


@dataclass(frozen=True)
class BuiltinPortrait:
    file: str
    name: str


BUILTINS: dict[str, BuiltinPortrait] = {
    "astronaut": BuiltinPortrait("astronaut.png", "Astronaut (NASA portrait of Eileen Collins)"),
    "mona-lisa": BuiltinPortrait("mona_lisa.jpg", "Mona Lisa"),
    "mona-lisa-small": BuiltinPortrait("mona_lisa_197px.jpg", "Mona Lisa, 197 px crop"),
}


@dataclass(frozen=True)
class AvatarRecord:
    id: str
    name: str
    builtin: bool
    created_at: str  # ISO 8601, UTC; empty for built-ins
    consent: str  # the uploader's attestation; empty for built-ins
    source_width: int
    source_height: int
    sha256: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS avatars (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    consent TEXT NOT NULL,
    source_width INTEGER NOT NULL,
    source_height INTEGER NOT NULL,
    sha256 TEXT NOT NULL
)
"""


class AvatarStore:
    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = MAX_FILE_BYTES,
        max_pixels: int = MAX_PIXELS,
        preparer: Preparer | None = None,
    ) -> None:
        """preparer: how an upload is prepared (the server passes a worker process's, see
        engine/avatar/worker.py); None: in this process, one at a time."""
        self.root = Path(root)
        self._preparer = preparer
        self.max_bytes = min(max_bytes, MAX_FILE_BYTES)
        self.max_pixels = min(max_pixels, MAX_PIXELS)
        (self.root / "avatars").mkdir(parents=True, exist_ok=True)
        (self.root / "builtin").mkdir(parents=True, exist_ok=True)
        self._db_path = self.root / "avatars.sqlite3"
        self._lock = threading.RLock()
        self._prepare_lock = threading.Lock()  # one preparation at a time: it is CPU-bound
        self._cache: OrderedDict[str, PreparedAvatar] = OrderedDict()
        with self._connect() as db:
            db.execute(_SCHEMA)

    def add(self, image_bytes: bytes, *, name: str, consent: str) -> AvatarRecord:
        """Prepare and store an uploaded portrait; the same image uploaded again (same sha256)
        is stored once: its existing record comes back, unprepared again. Raises AvatarError
        (engine.errors reasons, and consent_required / bad_name)."""
        consent = consent.strip()
        if not consent:
            raise AvatarError(
                "an uploaded portrait needs a consent attestation: confirm that you may use this "
                "person's likeness",
                "consent_required",
            )
        if len(consent) > MAX_CONSENT_CHARS or len(name) > MAX_NAME_CHARS:
            raise AvatarError(
                f"name is limited to {MAX_NAME_CHARS} and consent to {MAX_CONSENT_CHARS} "
                "characters",
                "bad_name",
            )
        self._check_caps(image_bytes)
        sha256 = hashlib.sha256(image_bytes).hexdigest()
        existing = self._find_sha256(sha256)
        if existing is not None:
            return existing
        avatar = self._prepare(image_bytes, name)
        with self._lock:  # an identical upload may have finished meanwhile
            existing = self._find_sha256(sha256)
            if existing is not None:
                return existing
            return self._insert(image_bytes, avatar, name, consent, sha256)

    def _prepare(self, image_bytes: bytes, name: str) -> PreparedAvatar:
        if self._preparer is not None:
            return self._preparer(image_bytes, name)
        from engine.avatar.prepare import prepare_avatar  # mediapipe loads only when preparing

        with self._prepare_lock:
            return prepare_avatar(image_bytes, name=name)

    def _find_sha256(self, sha256: str) -> AvatarRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT id FROM avatars WHERE sha256 = ? ORDER BY created_at, id LIMIT 1",
                (sha256,),
            ).fetchone()
        return None if row is None else self.get(row[0])

    def _insert(
        self, image_bytes: bytes, avatar: PreparedAvatar, name: str, consent: str, sha256: str
    ) -> AvatarRecord:
        avatar_id = "av_" + secrets.token_hex(6)
        avatar.save(self._uploaded_path(avatar_id))
        width, height = _source_size(image_bytes)
        record = AvatarRecord(
            id=avatar_id,
            name=name.strip() or "portrait",
            builtin=False,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            consent=consent,
            source_width=width,
            source_height=height,
            sha256=sha256,
        )
        with self._connect() as db:
            db.execute(
                "INSERT INTO avatars VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.name,
                    record.created_at,
                    record.consent,
                    record.source_width,
                    record.source_height,
                    record.sha256,
                ),
            )
        self._remember(avatar_id, avatar)
        return record

    def get(self, avatar_id: str) -> AvatarRecord:
        avatar_id = self.resolve(avatar_id)
        if avatar_id in BUILTINS:
            return _builtin_record(avatar_id)
        with self._connect() as db:
            row = db.execute(
                "SELECT id, name, created_at, consent, source_width, source_height, sha256 "
                "FROM avatars WHERE id = ?",
                (avatar_id,),
            ).fetchone()
        if row is None:
            raise _not_found(avatar_id)
        return AvatarRecord(
            id=row[0],
            name=row[1],
            builtin=False,
            created_at=row[2],
            consent=row[3],
            source_width=row[4],
            source_height=row[5],
            sha256=row[6],
        )

    def list(self) -> list[AvatarRecord]:
        """Built-ins first (the default first of all), then uploads, oldest first."""
        with self._connect() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM avatars ORDER BY created_at, id")]
        return [_builtin_record(i) for i in BUILTINS] + [self.get(i) for i in ids]

    def load(self, avatar_id: str) -> PreparedAvatar:
        """The prepared avatar (cached); a built-in is prepared on first use."""
        avatar_id = self.resolve(avatar_id)
        with self._lock:
            if avatar_id in self._cache:
                self._cache.move_to_end(avatar_id)
                return self._cache[avatar_id]
        avatar = self._load_builtin(avatar_id) if avatar_id in BUILTINS else None
        if avatar is None:
            self.get(avatar_id)  # not_found for ids that were never stored
            avatar = PreparedAvatar.load(self._uploaded_path(avatar_id))
        self._remember(avatar_id, avatar)
        return avatar

    def delete(self, avatar_id: str) -> None:
        avatar_id = self.resolve(avatar_id)
        if avatar_id in BUILTINS:
            raise AvatarError(
                f"{avatar_id!r} is a built-in avatar and cannot be deleted", "builtin"
            )
        with self._connect() as db:
            deleted = db.execute("DELETE FROM avatars WHERE id = ?", (avatar_id,)).rowcount
        if not deleted:
            raise _not_found(avatar_id)
        self._uploaded_path(avatar_id).unlink(missing_ok=True)
        with self._lock:
            self._cache.pop(avatar_id, None)

    def preview_png(self, avatar_id: str) -> bytes:
        """The prepared 512x512 crop as PNG."""
        buffer = io.BytesIO()
        Image.fromarray(self.load(avatar_id).image).save(buffer, format="PNG")
        return buffer.getvalue()

    def resolve(self, avatar_id: str) -> str:
        return DEFAULT_AVATAR_ID if avatar_id in ("", DEFAULT_ALIAS) else avatar_id

    def _check_caps(self, image_bytes: bytes) -> None:
        if len(image_bytes) > self.max_bytes:
            raise AvatarError(
                f"the file is {len(image_bytes) / 1e6:.1f} MB; the limit is "
                f"{self.max_bytes / 1e6:.1f} MB",
                "too_many_bytes",
            )
        try:
            with Image.open(io.BytesIO(image_bytes)) as header:  # reads the header only
                width, height = header.size
        except Exception:  # undecodable files get their reason code from prepare
            return
        if width * height > self.max_pixels:
            raise AvatarError(
                f"the image is {width}x{height}; the limit is "
                f"{self.max_pixels / 1e6:.0f} megapixels, so scale the portrait down first",
                "too_many_pixels",
            )

    def _load_builtin(self, avatar_id: str) -> PreparedAvatar:
        shipped = shipped_avatar(ASSETS_DIR / BUILTINS[avatar_id].file)
        if shipped is not None:
            return shipped
        path = self.root / "builtin" / f"{avatar_id}{AVATAR_SUFFIX}"
        if path.is_file():
            try:
                return PreparedAvatar.load(path)
            except AvatarError:
                pass  # prepared by an older build: prepare again below
        from engine.avatar.prepare import prepare_avatar

        with self._prepare_lock:
            avatar = prepare_avatar(ASSETS_DIR / BUILTINS[avatar_id].file)
        avatar.save(path)
        return avatar

    def _remember(self, avatar_id: str, avatar: PreparedAvatar) -> None:
        with self._lock:
            self._cache[avatar_id] = avatar
            self._cache.move_to_end(avatar_id)
            while len(self._cache) > CACHED_AVATARS:
                self._cache.popitem(last=False)

    def _uploaded_path(self, avatar_id: str) -> Path:
        if not avatar_id.replace("_", "").isalnum():
            raise _not_found(avatar_id)  # never let an id walk the file system
        return self.root / "avatars" / f"{avatar_id}{AVATAR_SUFFIX}"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._db_path, timeout=10)
        try:
            with db:  # commits, or rolls back on an exception
                yield db
        finally:
            db.close()


def _builtin_record(avatar_id: str) -> AvatarRecord:
    portrait = BUILTINS[avatar_id]
    with Image.open(ASSETS_DIR / portrait.file) as image:
        width, height = image.size
    return AvatarRecord(avatar_id, portrait.name, True, "", "", width, height, "")


def _source_size(image_bytes: bytes) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            return image.size
    except Exception:  # prepare decoded it already; this is metadata only
        return (0, 0)


def _not_found(avatar_id: str) -> AvatarError:
    return AvatarError(f"no avatar with id {avatar_id!r}", "not_found")
