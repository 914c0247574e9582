"""A fair turn at SQLite's write lock for every process on one database file.

Why this exists: SQLite's own write lock (BEGIN IMMEDIATE) is not a queue. A process that finds
it taken sleeps in the busy handler (1, 2, 5, 10 ... 100 ms) and tries again, while the holder,
the moment it commits, takes the lock again for its next queued transaction. Under sustained
load from two `serve`s on one file one of them could sign almost nothing (and, past the busy
timeout, answer "database is locked"). Caps stayed exact; fairness did not.

So every writer first takes its turn here, two flock(2) files beside the database (0600):
- `<db>-turnstile`, held only on the way in: a process waiting for the write lock holds it,
  so the holder, once it releases, cannot walk straight back in; it queues at the turnstile
  behind the waiter. Under contention the turns alternate.
- `<db>-lock`, held for the whole transaction: a waiter blocks in the kernel and is woken the
  moment it is released, instead of sleeping on a timer.
SQLite's lock is still taken inside the turn and still decides correctness (a writer that does
not know these files, e.g. the sqlite3 shell, is handled by the busy timeout as before). flock
locks belong to the open file, so a process that dies releases its turn; two stores in one
process exclude each other as two processes do.

A blocking flock cannot time out, so the deadline lives in a `Claim`: a transaction starts only
if its turn is obtained before the claim's deadline and before the waiting request gave up
(`abandon`), never after. A contended turn is waited for on a short-lived daemon thread, so
neither the writer thread nor the process's exit can hang on a holder that never lets go (one
SIGSTOPped mid-transaction, say): the request ends in StoreUnavailable with nothing signed,
and when the turn finally comes the helper finds the claim abandoned and lets it go at once.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ._errors import StoreUnavailable

_NO_TURN = "database is busy: no write turn within the busy timeout"


def write_lock_path(db_path: Path) -> Path:
    """The file whose flock is held for the length of each write transaction."""
    return db_path.with_name(db_path.name + "-lock")


def turnstile_path(db_path: Path) -> Path:
    """The file a process holds while it waits for the write lock."""
    return db_path.with_name(db_path.name + "-turnstile")


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class Claim:
    """One transaction's claim on the write turn: started by the writer thread (turn obtained
    before the deadline) or abandoned by the waiting request, never both."""

    def __init__(self, *, deadline: float) -> None:
        self.deadline = deadline
        self._mutex = threading.Lock()
        self._state = "waiting"

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    @property
    def abandoned(self) -> bool:
        with self._mutex:
            return self._state == "abandoned"

    def start(self) -> bool:
        """Writer thread, turn obtained: may the transaction run?"""
        with self._mutex:
            if self._state == "waiting" and time.monotonic() <= self.deadline:
                self._state = "started"
                return True
            self._state = "abandoned"
            return False

    def abandon(self) -> bool:
        """Waiting request, out of time (or cancelled): True if the transaction will not run;
        False if it already started (then its result must be awaited)."""
        with self._mutex:
            if self._state == "started":
                return False
            self._state = "abandoned"
            return True


class WriteTurn:
    """The two lock files of one database, opened once per store."""

    def __init__(self, db_path: Path) -> None:
        self._paths = (turnstile_path(db_path), write_lock_path(db_path))
        self._fds: tuple[int, int] | None = None

    def open(self) -> None:
        try:
            fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                   for p in self._paths]
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the write lock file: {exc}") from exc
        self._fds = (fds[0], fds[1])

    def close(self) -> None:
        if self._fds is not None:
            for fd in self._fds:
                os.close(fd)
            self._fds = None

    @contextmanager
    def held(self, claim: Claim) -> Iterator[None]:
        """Hold the write turn for the block, or raise StoreUnavailable if `claim` cannot
        start (deadline passed or abandoned while waiting). Runs on the writer thread."""
        if self._fds is None:
            raise StoreUnavailable("store is not open")
        turnstile, lock = self._fds
        try:
            fcntl.flock(turnstile, fcntl.LOCK_EX | fcntl.LOCK_NB)
            in_turnstile = True
        except BlockingIOError:
            in_turnstile = False  # another process is next: queue behind it
        if in_turnstile and _try_flock(lock):
            fcntl.flock(turnstile, fcntl.LOCK_UN)
            if not claim.start():
                fcntl.flock(lock, fcntl.LOCK_UN)
                raise StoreUnavailable(_NO_TURN)
        else:
            # Still in the turnstile (if we got in): a releaser must not slip past us while
            # the helper thread starts.
            self._wait_for_turn(self._fds, claim, in_turnstile=in_turnstile)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _wait_for_turn(fds: tuple[int, int], claim: Claim, *, in_turnstile: bool) -> None:
        """Wait in the kernel, but never past the claim's deadline.

        A blocking flock cannot time out, so it runs on a daemon thread with its own
        descriptors (dup: the same open files, hence the same locks) and the writer thread
        waits for it at most until the deadline. Past it the claim is abandoned and the
        helper, whenever the turn comes (a SIGSTOPped holder may never give it), lets it go
        at once; being a daemon it never holds up the process's exit."""
        turnstile, lock = os.dup(fds[0]), os.dup(fds[1])
        obtained = threading.Event()

        def take() -> None:
            try:
                if not in_turnstile:
                    fcntl.flock(turnstile, fcntl.LOCK_EX)
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                finally:
                    fcntl.flock(turnstile, fcntl.LOCK_UN)
                if claim.start():
                    obtained.set()
                else:
                    fcntl.flock(lock, fcntl.LOCK_UN)
            finally:
                os.close(turnstile)
                os.close(lock)

        try:
            threading.Thread(target=take, name="studio-write-turn", daemon=True).start()
        except BaseException:  # no thread, no wait: leave the turnstile to the others
            fcntl.flock(turnstile, fcntl.LOCK_UN)
            os.close(turnstile)
            os.close(lock)
            raise
        if obtained.wait(claim.remaining()):
            return
        if claim.abandon():
            raise StoreUnavailable(_NO_TURN)
        obtained.wait()  # started in the instant between: the turn is ours
