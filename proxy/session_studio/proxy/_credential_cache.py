"""Credentials from memory, dropped whenever the database says something changed.

Every RPC request starts by asking who its bearer credential belongs to. Asking the database
each time costs a round trip per request (and, on PostgreSQL, a pooled connection) and makes
reads fail while the database is away, although a read needs nothing the database holds. So
the RPC plane keeps what `resolve_credential` and `live_sessions_of` answered, and every process
polls the store's cache epoch (a counter database triggers move in the same commit as any
credential, session-scope or agent-disable change, store migration 0014 / pg 0003). When the
epoch moved, the whole cache goes: revocations are rare, reads are not.

What this promises, and what it does not:
- **Signing never trusts it.** A request holding a deciding method resolves its credential
  fresh (a dead one is HTTP 401 at once, and is dropped from the cache), reads its live
  session list fresh (a `from` outside it is looked up by address, never cached), and the
  reserving transaction re-reads revocation and expiry under its locks.
- **Reads and `eth_accounts` may use it** for at most `POLL_INTERVAL_S` plus one poll's query
  after a revoke, reissue, rotation or disable committed anywhere (the invalidation bound:
  about 0.5 s, stated as 1 s in docs/design.md).
- **Database outage:** entries keep answering reads for `OUTAGE_GRACE_MS` after the last
  successful poll, so reads pass while signing fails closed. A change made meanwhile through
  another replica that still reaches the database is seen here when the poll succeeds again,
  or not at all once the grace ran out (then every request asks the database, and fails).
- **Unknown credentials are never cached**, so a credential issued on another replica works
  here at once, and random tokens cannot fill memory. The cache holds at most
  `MAX_ENTRIES` credentials, least recently used dropped first.
- A lookup that raced an invalidation is not stored (`_generation`): the answer it read may
  predate the change that invalidated the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from session_studio.store import CredentialOwner, CredentialResolver, Session

log = logging.getLogger("session_studio.credentials")

POLL_INTERVAL_S = 0.5
OUTAGE_GRACE_MS = 300_000
MAX_ENTRIES = 100_000


@dataclass(slots=True)
class _Entry:
    owner: CredentialOwner
    sessions: tuple[Session, ...] | None = None


class CredentialCache:
    """The RPC plane's credential lookups, from memory while the cache epoch holds still."""

    def __init__(self, resolver: CredentialResolver, *, clock: Callable[[], int],
                 poll_interval_s: float = POLL_INTERVAL_S,
                 outage_grace_ms: int = OUTAGE_GRACE_MS,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._resolver = resolver
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._outage_grace_ms = outage_grace_ms
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._epoch: int | None = None  # None until the first successful poll: cache nothing
        self._confirmed_ms = 0  # clock() of the last successful poll
        self._generation = 0  # moves on every invalidation
        self._task: asyncio.Task[None] | None = None

    # -- lookups ---------------------------------------------------------------------------
    async def owner(self, token_hash: bytes, *, fresh: bool = False) -> CredentialOwner | None:
        """Who the credential speaks for, or None; StoreError if it must ask and cannot.

        `fresh` (a request that signs) always asks the database, and a credential found dead
        there is dropped here at once, so its reads stop too."""
        entry = None if fresh else self._usable(token_hash)
        if entry is not None:
            return entry.owner
        generation = self._generation
        owner = await self._resolver.resolve_credential(token_hash)
        if owner is None:
            self._entries.pop(token_hash, None)
        elif self._may_store(generation) and token_hash not in self._entries:
            self._put(token_hash, _Entry(owner))
        return owner

    async def sessions(self, token_hash: bytes, owner: CredentialOwner, *,
                       fresh: bool) -> tuple[Session, ...]:
        """The credential's live sessions (`live_sessions_of`). `fresh` (every deciding method)
        always asks the database; otherwise a cached list answers while the cache is usable
        (its readers re-check expiry at their own clock: a cached session may have expired)."""
        entry = None if fresh else self._usable(token_hash)
        if entry is not None and entry.sessions is not None:
            return entry.sessions
        generation = self._generation
        sessions = tuple(await self._resolver.live_sessions_of(owner, now_ms=self._clock()))
        if self._may_store(generation):
            self._put(token_hash, _Entry(owner, sessions))
        return sessions

    async def session_by_address(self, owner: CredentialOwner, address: str) -> Session | None:
        """The credential's session at `address`, live or dead; never cached (it is the path
        of a `from` outside the live list: a refusal, or a session made since the list)."""
        return await self._resolver.session_by_address(owner, address)

    # -- invalidation ----------------------------------------------------------------------
    async def refresh(self) -> None:
        """One poll of the cache epoch: drop everything if it moved. A failed poll leaves the
        cache as it is; entries stop answering once `outage_grace_ms` passed without a
        successful one."""
        try:
            epoch = await self._resolver.cache_epoch()
        except Exception:  # any failure is "unconfirmed", never a reason to stop polling
            log.debug("cache epoch poll failed", exc_info=True)
            return
        if epoch != self._epoch:
            self._invalidate()
            self._epoch = epoch
        self._confirmed_ms = self._clock()

    async def start(self, _app: web.Application | None = None) -> None:
        if self._task is None:
            await self.refresh()
            self._task = asyncio.create_task(self._poll(), name="credential-cache")

    async def stop(self, _app: web.Application | None = None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._invalidate()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval_s)
            await self.refresh()

    # -- the table -------------------------------------------------------------------------
    def _usable(self, token_hash: bytes) -> _Entry | None:
        if self._epoch is None or self._clock() - self._confirmed_ms > self._outage_grace_ms:
            return None
        entry = self._entries.get(token_hash)
        if entry is not None:
            self._entries.move_to_end(token_hash)
        return entry

    def _may_store(self, generation: int) -> bool:
        return self._epoch is not None and generation == self._generation

    def _put(self, token_hash: bytes, entry: _Entry) -> None:
        self._entries[token_hash] = entry
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _invalidate(self) -> None:
        self._entries.clear()
        self._generation += 1

    def __len__(self) -> int:
        return len(self._entries)
