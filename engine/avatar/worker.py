"""Avatar preparation in a separate worker process, off the live path.

Preparing a portrait (face models, landmarks, segmentation) is seconds of CPU. Run in the
serving process it competed with the live sessions for the CPU and the GIL (issue 13: six
uploads froze a call at 0 fps for 5 s). `PreparationWorker` runs it in its own process:
- one preparation at a time by default (`processes`), the rest wait in a bounded queue;
  beyond `max_waiting` an upload is refused at once with AvatarError(prepare_busy), which the
  server answers with 503 and Retry-After;
- the child prepares at a lower CPU priority (os.nice), so the kernel favours live sessions;
- each preparation has a time limit: past it the child is killed (and replaced on the next
  upload) and the upload is refused with AvatarError(prepare_timeout).
The child starts at start() or on first use (spawn: no threads of the server are forked), is
ready once its face models are loaded, and stays up; the time limit counts from then.
`prepare()` blocks; call it from a thread, never from the event loop.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from engine.avatar.prepared import PreparedAvatar
from engine.errors import AvatarError

log = logging.getLogger(__name__)

# Nice 10 weighs a tenth of a normal process with the Linux scheduler: the live path keeps the
# CPU (at nice 5, three uploads beside two busy processes let a live stream's delay climb by
# seconds in bench stream). A portrait is about 2 s of CPU: beside two busy processes it is
# ready in about 30 s; start-up (imports, face models) runs before the nice, at full priority.
PREPARE_NICENESS = 10
PREPARE_TIME_LIMIT_S = 60.0  # from the portrait's arrival at the started worker
STARTUP_LIMIT_S = 300.0  # a niced start-up (torch, face models) on a loaded machine is slow
MAX_WAITING = 4
BUSY_RETRY_AFTER_S = 5


def _child(conn: Connection, niceness: int) -> None:
    """The worker process: prepare what arrives until the pipe closes. It starts up (imports,
    face models: once) at the server's priority and prepares at a lower one."""
    import torch

    torch.set_num_threads(1)
    try:
        from engine.avatar.landmarks import face_models
        from engine.avatar.prepare import prepare_avatar
    except AvatarError as exc:  # no mediapipe here: every upload gets this reason
        conn.send(("error", exc.reason, str(exc)))
        return

    face_models()  # load the face models before saying ready: start-up is not an upload's time
    os.nice(niceness)
    conn.send(("ready",))
    while True:
        try:
            image_bytes, name = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", prepare_avatar(image_bytes, name=name)))
        except AvatarError as exc:
            conn.send(("error", exc.reason, str(exc)))
        except Exception as exc:  # a bug or a broken file the decoders did not catch
            conn.send(("error", "prepare_failed", f"preparation failed: {exc!r}"))


class _Slot:
    """One worker process and the pipe to it."""

    def __init__(self, niceness: int) -> None:
        self._niceness = niceness
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        # A worker that could not prepare at all (no mediapipe here) says so once; every later
        # upload gets the same answer without a process started (torch, seconds) to hear it.
        self._cannot_prepare: tuple[str, str] | None = None

    def run(self, image_bytes: bytes, name: str, time_limit_s: float) -> PreparedAvatar:
        conn = self._ensure()
        conn.send((image_bytes, name))
        if not conn.poll(time_limit_s):
            self.stop()
            raise AvatarError(
                f"preparing the portrait took longer than {time_limit_s:.0f} s and was stopped",
                "prepare_timeout",
            )
        try:
            reply: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError) as exc:
            self.stop()
            raise AvatarError("the preparation worker died", "prepare_failed") from exc
        if reply[0] == "ok":
            avatar: PreparedAvatar = reply[1]
            return avatar
        raise AvatarError(reply[2], reply[1])

    def start(self) -> None:
        self._ensure()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._process = None

    def _ensure(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        if self._cannot_prepare is not None:
            raise AvatarError(*self._cannot_prepare)
        self.stop()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_child, args=(child, self._niceness), name="gioconda-prepare", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        if not parent.poll(STARTUP_LIMIT_S):
            self.stop()
            raise AvatarError("the preparation worker did not start", "prepare_failed")
        try:
            started: tuple[Any, ...] = parent.recv()  # ("ready",) or ("error", reason, detail)
        except (EOFError, OSError) as exc:
            self.stop()
            raise AvatarError("the preparation worker did not start", "prepare_failed") from exc
        if started[0] == "error":
            self.stop()
            self._cannot_prepare = (started[2], started[1])
            raise AvatarError(*self._cannot_prepare)
        log.info(
            "avatar preparation worker started (pid %s, nice +%d)", process.pid, self._niceness
        )
        return parent


class PreparationWorker:
    def __init__(
        self,
        *,
        processes: int = 1,
        max_waiting: int = MAX_WAITING,
        time_limit_s: float = PREPARE_TIME_LIMIT_S,
        niceness: int = PREPARE_NICENESS,
    ) -> None:
        if processes < 1 or max_waiting < 0 or time_limit_s <= 0:
            raise ValueError("processes >= 1, max_waiting >= 0 and time_limit_s > 0")
        self.time_limit_s = time_limit_s
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._slots = [_Slot(niceness) for _ in range(processes)]
        self._free = list(self._slots)
        self._available = threading.Condition(self._lock)
        self._waiting = 0
        self._closed = False

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._waiting

    def prepare(self, image_bytes: bytes, name: str = "") -> PreparedAvatar:
        """Prepare in the worker process (blocking). AvatarError: the portrait's own reasons,
        prepare_busy (queue full), prepare_timeout, prepare_failed, engine_closed."""
        slot = self._acquire()
        try:
            return slot.run(image_bytes, name, self.time_limit_s)
        finally:
            with self._lock:
                self._free.append(slot)
                self._available.notify()

    def start(self) -> None:
        """Start the worker processes now (blocking), so that the first upload does not wait
        for their start-up; otherwise they start on first use."""
        for slot in self._slots:
            slot.start()

    def close(self) -> None:
        """Idempotent: stop every worker process (a preparation under way is abandoned)."""
        with self._lock:
            self._closed = True
            self._available.notify_all()
        for slot in self._slots:  # a busy one's upload then fails with prepare_failed
            slot.stop()

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._closed:
                raise AvatarError("the server is shutting down", "engine_closed")
            if not self._free and self._waiting >= self.max_waiting:
                raise AvatarError(
                    f"{self._waiting} portraits are waiting to be prepared; try again in "
                    f"{BUSY_RETRY_AFTER_S} s",
                    "prepare_busy",
                )
            self._waiting += 1
            try:
                while not self._free:
                    self._available.wait()
                    if self._closed:
                        raise AvatarError("the server is shutting down", "engine_closed")
            finally:
                self._waiting -= 1
            return self._free.pop()
