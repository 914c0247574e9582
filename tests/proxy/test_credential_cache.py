"""The RPC plane's credential cache: answers from memory while the cache epoch holds still,
forgets everything when it moves, never stores what raced a change, never caches strangers,
and keeps answering reads through a database outage for a bounded time only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.proxy._credential_cache import CredentialCache
from session_studio.store import CredentialOwner, Session, StoreUnavailable

GRACE_MS = 60_000


@dataclass
class FakeResolver:
    """Credentials in a dict; `epoch` moves on every change, as the database triggers do."""

    owners: dict[bytes, CredentialOwner] = field(default_factory=dict)
    epoch: int = 0
    down: bool = False
    lookups: int = 0
    during_lookup: list[object] = field(default_factory=list)  # callbacks run mid-lookup

    async def resolve_credential(self, token_hash: bytes) -> CredentialOwner | None:
        self._check()
        self.lookups += 1
        answer = self.owners.get(token_hash)
        for hook in self.during_lookup:
            hook()  # type: ignore[operator]
        await asyncio.sleep(0)
        return answer

    async def live_sessions_of(self, owner: CredentialOwner, *, now_ms: int) -> list[Session]:
        self._check()
        self.lookups += 1
        return []

    async def session_by_address(self, owner: CredentialOwner, address: str) -> Session | None:
        self._check()
        self.lookups += 1
        return None

    async def cache_epoch(self) -> int:
        self._check()
        return self.epoch

    def issue(self, token: bytes) -> None:
        self.owners[token] = CredentialOwner(workspace_id="w", kind="session",
                                             owner_id=token.hex())
        self.epoch += 1

    def revoke(self, token: bytes) -> None:
        self.owners.pop(token, None)
        self.epoch += 1

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("database is down")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


async def _cache(resolver: FakeResolver, clock: Clock | None = None) -> CredentialCache:
    cache = CredentialCache(resolver, clock=clock or Clock(), outage_grace_ms=GRACE_MS,
                            max_entries=3)
    await cache.refresh()
    return cache


async def test_a_known_credential_is_answered_from_memory_the_second_time() -> None:
    resolver = FakeResolver()
    resolver.issue(b"a")
    cache = await _cache(resolver)
    first, second = await cache.owner(b"a"), await cache.owner(b"a")
    assert (first, second, resolver.lookups) == (resolver.owners[b"a"], first, 1)


async def test_a_revoke_is_seen_at_the_next_poll() -> None:
    resolver = FakeResolver()
    resolver.issue(b"a")
    cache = await _cache(resolver)
    await cache.owner(b"a")
    resolver.revoke(b"a")
    await cache.refresh()
    assert await cache.owner(b"a") is None


async def test_an_unknown_credential_is_never_cached_so_a_new_one_works_at_once() -> None:
    resolver = FakeResolver()
    cache = await _cache(resolver)
    assert await cache.owner(b"a") is None
    resolver.owners[b"a"] = CredentialOwner(workspace_id="w", kind="session", owner_id="x")
    assert await cache.owner(b"a") == resolver.owners[b"a"]  # no poll in between


async def test_nothing_is_cached_before_the_first_successful_poll() -> None:
    resolver = FakeResolver()
    resolver.issue(b"a")
    cache = CredentialCache(resolver, clock=Clock())
    await cache.owner(b"a")
    await cache.owner(b"a")
    assert (resolver.lookups, len(cache)) == (2, 0)


async def test_a_lookup_that_raced_an_invalidation_is_not_stored() -> None:
    resolver = FakeResolver()
    resolver.issue(b"a")
    cache = await _cache(resolver)

    def revoke_and_poll_meanwhile() -> None:
        resolver.revoke(b"a")
        asyncio.get_running_loop().create_task(cache.refresh())

    resolver.during_lookup.append(revoke_and_poll_meanwhile)
    stale = await cache.owner(b"a")  # read before the revoke: answers the old owner once
    resolver.during_lookup.clear()
    await asyncio.sleep(0)
    assert stale is not None
    assert await cache.owner(b"a") is None


async def test_reads_are_answered_through_an_outage_within_the_grace() -> None:
    resolver, clock = FakeResolver(), Clock()
    resolver.issue(b"a")
    cache = await _cache(resolver, clock)
    owner = await cache.owner(b"a")
    resolver.down = True
    await cache.refresh()
    clock.now += GRACE_MS
    assert await cache.owner(b"a") == owner


async def test_after_the_grace_an_outage_reaches_the_caller() -> None:
    resolver, clock = FakeResolver(), Clock()
    resolver.issue(b"a")
    cache = await _cache(resolver, clock)
    await cache.owner(b"a")
    resolver.down = True
    clock.now += GRACE_MS + 1
    with pytest.raises(StoreUnavailable):
        await cache.owner(b"a")


async def test_a_fresh_session_list_always_asks_the_database() -> None:
    resolver = FakeResolver()
    resolver.issue(b"a")
    cache = await _cache(resolver)
    owner = await cache.owner(b"a")
    assert owner is not None
    await cache.sessions(b"a", owner, fresh=True)
    await cache.sessions(b"a", owner, fresh=True)
    await cache.sessions(b"a", owner, fresh=False)
    await cache.sessions(b"a", owner, fresh=False)
    assert resolver.lookups == 1 + 2  # the owner, then two fresh lists; cached after


async def test_the_cache_holds_at_most_max_entries_dropping_the_least_recently_used() -> None:
    resolver = FakeResolver()
    for token in (b"a", b"b", b"c", b"d"):
        resolver.issue(token)
    cache = await _cache(resolver)
    for token in (b"a", b"b", b"c"):
        await cache.owner(token)
    await cache.owner(b"a")  # a is now the most recent; b the least
    await cache.owner(b"d")
    before = resolver.lookups
    await cache.owner(b"a")
    await cache.owner(b"b")
    assert (len(cache), resolver.lookups - before) == (3, 1)


Step = tuple[str, int]
STEPS = st.lists(st.tuples(st.sampled_from(["issue", "revoke", "poll", "lookup"]),
                           st.integers(0, 1)), min_size=8, max_size=40)


@settings(max_examples=200, deadline=None)
@given(STEPS)
def test_after_a_poll_no_revoked_credential_is_ever_answered(steps: list[Step]) -> None:
    """Random programs of issue, revoke, poll and lookup: once a poll ran after a revoke, the
    cache never names the revoked credential's owner again (until it is issued again)."""

    async def run() -> None:
        resolver = FakeResolver()
        cache = await _cache(resolver)
        revoked_and_polled: set[bytes] = set()
        revoked_unpolled: set[bytes] = set()
        for action, n in steps:
            token = bytes([n])
            if action == "issue":
                resolver.issue(token)
                revoked_and_polled.discard(token)
                revoked_unpolled.discard(token)
            elif action == "revoke":
                resolver.revoke(token)
                revoked_unpolled.add(token)
            elif action == "poll":
                await cache.refresh()
                revoked_and_polled |= revoked_unpolled
                revoked_unpolled.clear()
            else:
                answer = await cache.owner(token)
                if token in revoked_and_polled:
                    assert answer is None

    asyncio.run(run())


async def test_a_fresh_lookup_asks_the_database_and_drops_a_dead_credential() -> None:
    resolver = FakeResolver()
    resolver.issue(b"a")
    cache = await _cache(resolver)
    await cache.owner(b"a")
    resolver.revoke(b"a")  # no poll yet: a read would still be answered from memory
    assert await cache.owner(b"a", fresh=True) is None
    assert await cache.owner(b"a") is None  # and its reads stop at once too
