"""Properties of outcome transitions over random orders of late writers (issue 12, item 3).

Every example is a fresh database holding a few signed sends, and a random program of what the
writers of a send's outcome may do, in any order and any number of times: the owner or a
survivor records `broadcast` or `unknown`, releases it, or settlement settles or releases it.
After every step the database itself is inspected:

- a send's status only moves forward (signed < unknown < broadcast < settled | released), and a
  settled or released send never changes again;
- the window's buckets always equal the amounts of the sends that are not released (no spend is
  given back twice, none given back for a send that stays counted).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.store import Reservation, ReservationStatus

from ..conftest import T0, insert_session
from .conftest import BACKENDS, open_backend
from .test_ledger_settle import _send

SENDS = 3
RANK = {"signed": 0, "unknown": 1, "broadcast": 2, "settled": 3, "released": 3}

_send_index = st.integers(0, SENDS - 1)
_ops = st.one_of(
    st.tuples(st.sampled_from(["broadcast", "unknown"]), _send_index),
    st.tuples(st.just("release"), _send_index, st.booleans()),
    st.tuples(st.just("settle"), _send_index, st.integers(0, 4)),  # quarters of the amount
    st.tuples(st.just("settle_release"), _send_index),
)
_programs = st.lists(_ops, min_size=1, max_size=25)
_PROPERTY = settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


async def _apply(store: Any, op: tuple[Any, ...], held: Reservation, now_ms: int) -> None:
    kind = op[0]
    if kind in ("broadcast", "unknown"):
        await store.record_outcome(held, status=ReservationStatus(kind), now_ms=now_ms)
    elif kind == "release":
        await store.release(held, now_ms=now_ms, return_nonce=op[2])
    elif kind == "settle":
        await store.settle(held.id, amount=held.amount * op[2] // 4,
                           status=ReservationStatus.SETTLED, now_ms=now_ms)
    else:
        await store.settle(held.id, amount=0, status=ReservationStatus.RELEASED, now_ms=now_ms)


def _run(backend: str, program: list[tuple[Any, ...]]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as home:
            store, probe = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace = await store.create_workspace("outcomes", now_ms=T0)
                session = await insert_session(store, workspace)
                held = [await _send(store, session, status=None) for _ in range(SENDS)]
                before = {h.id: probe.reservation_status(h.id) for h in held}
                for step, op in enumerate(program, start=1):
                    await _apply(store, op, held[op[1]], T0 + step)
                    for h in held:
                        status = probe.reservation_status(h.id)
                        was = before[h.id]
                        assert RANK[status] >= RANK[was], (was, status, op)
                        if RANK[was] == 3:
                            assert status == was, (was, status, op)
                        before[h.id] = status
                    counted = sum(amount for _, _, amount in probe.rows(session.id))
                    assert sum(probe.buckets(session.lineage_id).values()) == counted, op
            finally:
                await store.close()

    asyncio.run(run())


@pytest.mark.parametrize("backend", BACKENDS)
@_PROPERTY
@given(_programs)
def test_outcomes_only_move_forward_and_the_window_counts_every_unreleased_send(
        backend: str, program: list[tuple[Any, ...]]) -> None:
    _run(backend, program)
