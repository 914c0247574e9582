"""Properties of the ledger over random histories of reservations and releases.

Each example is a fresh database and a random program: reserve a random amount at a random time
(spread over three days, so the 24 h window slides), or release one of the reservations made so
far. After every step the database itself is inspected:

- no 24 h window ever holds more than the daily cap in non-released reservations;
- every per-minute bucket equals the sum of the non-released reservations of that minute;
- the store admits exactly what fits under the conservative (whole-minute) window, no less.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.store import Reservation, Session

from ..conftest import DAY_MS, ETHER, MINUTE_MS, T0, insert_session, reserve
from .conftest import BACKENDS, LedgerProbe, open_backend

PER_TX = 4 * ETHER
DAILY = 10 * ETHER
SPAN_MS = 3 * DAY_MS

_amounts = st.one_of(st.sampled_from([ETHER, 3 * ETHER, PER_TX, PER_TX + 1, DAILY // 3]),
                     st.integers(0, 5 * ETHER))
# Times cluster (so requests compete for one window) and hit the window's edges (one day after
# an earlier request, give or take a few seconds), as well as spreading over the whole span.
_times = st.one_of(
    st.integers(T0, T0 + 30 * MINUTE_MS),
    st.integers(T0, T0 + SPAN_MS),
    st.builds(lambda day, offset: T0 + day * DAY_MS + offset,
              st.integers(0, 2), st.integers(-90_000, 90_000)),
)
_reserve = st.tuples(st.just("reserve"), _amounts, _times)
_release = st.tuples(st.just("release"), st.integers(0, 10**6), st.booleans())
# Three reservations to one release, so windows fill up and releases have something to hit.
_programs = st.lists(st.one_of(_reserve, _reserve, _reserve, _release), min_size=10, max_size=40)

Op = tuple[Any, ...]
Check = Callable[[LedgerProbe, Session], None]
_PROPERTY = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def _monotonic(program: list[Op]) -> list[Op]:
    """The same program with reservation times in order, as one clock would produce them."""
    times = iter(sorted(op[2] for op in program if op[0] == "reserve"))
    return [(op[0], op[1], next(times)) if op[0] == "reserve" else op for op in program]


def _run(backend: str, program: list[Op], *, check: Check | None = None,
         on_decision: Callable[[LedgerProbe, Session, Op, bool], None] | None = None,
         ) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as home:
            store, probe = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace = await store.create_workspace("properties", now_ms=T0)
                session = await insert_session(store, workspace, per_tx=PER_TX, daily=DAILY,
                                               lifetime_ms=SPAN_MS + DAY_MS)
                held: list[Reservation] = []
                for op in program:
                    if op[0] == "reserve":
                        decision, reservation = await reserve(store, session, op[1],
                                                              now_ms=op[2])
                        if on_decision is not None:
                            on_decision(probe, session, op, decision.allowed)
                        if reservation is not None:
                            held.append(reservation)
                    elif held:
                        await store.release(held[op[1] % len(held)], now_ms=T0 + SPAN_MS,
                                            return_nonce=op[2])
                    if check is not None:
                        check(probe, session)
            finally:
                await store.close()

    asyncio.run(run())


def _no_window_over_the_cap(probe: LedgerProbe, session: Session) -> None:
    rows = probe.rows(session.id)
    for end, _, _ in rows:
        in_window = sum(a for t, _, a in rows if end - DAY_MS < t <= end)
        assert in_window <= DAILY, f"{in_window} held in the 24 h ending {end}"


def _buckets_match_reservations(probe: LedgerProbe, session: Session) -> None:
    expected: dict[int, int] = defaultdict(int)
    for _, minute, amount in probe.rows(session.id):
        expected[minute] += amount
    buckets = probe.buckets(session.lineage_id)
    for minute in set(expected) | set(buckets):
        assert buckets.get(minute, 0) == expected.get(minute, 0), f"minute {minute}"


@pytest.mark.parametrize("backend", BACKENDS)
@_PROPERTY
@given(_programs)
def test_no_24h_window_ever_holds_more_than_the_daily_cap(backend: str, program: list[Op]) -> None:
    _run(backend, program, check=_no_window_over_the_cap)


@pytest.mark.parametrize("backend", BACKENDS)
@_PROPERTY
@given(_programs)
def test_buckets_always_equal_the_unreleased_reservations_per_minute(
        backend: str, program: list[Op]) -> None:
    _run(backend, program, check=_buckets_match_reservations)


@pytest.mark.parametrize("backend", BACKENDS)
@_PROPERTY
@given(_programs)
def test_store_admits_exactly_what_fits_the_whole_minute_window(backend: str,
                                                                 program: list[Op]) -> None:
    def expect(probe: LedgerProbe, session: Session, op: Op, allowed: bool) -> None:
        _, amount, now = op
        rows = probe.rows(session.id)
        # Rows now include this request if it was admitted: judge against the others.
        if allowed:
            rows.remove(next(r for r in rows if r[0] == now and r[2] == amount))
        first_minute = (now - DAY_MS) // MINUTE_MS
        spent = sum(a for _, minute, a in rows if minute >= first_minute)
        assert allowed == (amount <= PER_TX and spent + amount <= DAILY)

    _run(backend, _monotonic(program), on_decision=expect)
