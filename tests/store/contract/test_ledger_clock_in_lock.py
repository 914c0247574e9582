"""Time is read inside the reserving transaction (issue 10, item 13).

The store calls the injected clock once it holds the ledger's lock and judges expiry, the rate
limit's minute and the spend window at that instant. A request that waited for the lock (another
process writing, a slow disk) is judged when it is decided, not when it arrived.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import ReasonCode
from session_studio.store import Store, Workspace

from ..conftest import ETHER, MINUTE_MS, T0, fake_sign, insert_session, new_session, reserve
from .conftest import BACKENDS, LedgerProbe, open_backend

LIFETIME_MS = 10 * MINUTE_MS


async def test_request_waiting_behind_a_signature_in_flight_past_expiry_is_refused(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace, lifetime_ms=LIFETIME_MS)
    now = [T0]  # well before expiry when the request arrives
    signing, finish = threading.Event(), threading.Event()

    def slow_sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signing.set()  # this reservation holds the session's ledger lock until `finish`
        assert finish.wait(10)
        return fake_sign(nonce, sealed)

    holding = asyncio.create_task(reserve(store, session, ETHER, sign=slow_sign))
    assert await asyncio.to_thread(signing.wait, 10)
    waiting = asyncio.create_task(reserve(store, session, ETHER, clock=lambda: now[0]))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    now[0] = session.expires_at_ms  # expiry passes while it waits
    finish.set()
    assert (await holding)[0].allowed
    decision, reservation = await waiting
    assert decision.reason is ReasonCode.SESSION_EXPIRED and reservation is None


async def test_decision_is_recorded_at_the_time_read_in_the_lock(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    _, reservation = await reserve(store, session, ETHER, now_ms=T0 + 1234)
    assert reservation is not None
    assert [d.at_ms for d in await store.recent_decisions(session.id, limit=10)] == [
        T0 + 1234]
    assert probe.rows(session.id) == [(T0 + 1234, (T0 + 1234) // MINUTE_MS, ETHER)]


async def test_clock_is_read_once_per_reservation(store: Store,
                                                  workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    reads: list[int] = []

    def clock() -> int:
        reads.append(T0)
        return T0

    await reserve(store, session, ETHER, clock=clock)
    assert reads == [T0]


# -- property: every verdict follows the clock the store read ----------------------------------
_offsets = st.lists(st.integers(0, 3 * MINUTE_MS), min_size=1, max_size=25)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offsets=_offsets, lifetime_ms=st.integers(1, 2 * MINUTE_MS),
       rate_limit=st.integers(1, 5))
def test_expiry_and_rate_limit_follow_the_clock_read_in_the_lock(
        backend: str, offsets: list[int], lifetime_ms: int, rate_limit: int) -> None:
    """Expected verdicts are computed from the clock readings alone: expired once the reading
    reaches expires_at; rate-limited once `rate_limit` decisions (of any outcome) fall in the
    minute before the reading; otherwise allowed (amounts are far below every cap)."""
    times = sorted(T0 + offset for offset in offsets)

    async def run() -> list[ReasonCode | None]:
        with tempfile.TemporaryDirectory() as home:
            store, _ = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace = await store.create_workspace("clock", now_ms=T0)
                session = replace(new_session(workspace, lifetime_ms=lifetime_ms),
                                  rate_limit_per_minute=rate_limit)
                await store.insert_session(session, sealed_key=b"k" * 96, credential_hash=None)
                verdicts = []
                for t in times:
                    # The request "arrived" long before: only the in-lock reading may count.
                    decision, _ = await reserve(store, session, ETHER // 1000,
                                                now_ms=T0 - 10 * MINUTE_MS,
                                                clock=lambda t=t: t)
                    verdicts.append(decision.reason)
                return verdicts
            finally:
                await store.close()

    expected: list[ReasonCode | None] = []
    for i, t in enumerate(times):
        recent = sum(1 for earlier in times[:i] if earlier > t - MINUTE_MS)
        if t >= T0 + lifetime_ms:
            expected.append(ReasonCode.SESSION_EXPIRED)
        elif recent >= rate_limit:
            expected.append(ReasonCode.RATE_LIMITED)
        else:
            expected.append(None)
    assert asyncio.run(run()) == expected
