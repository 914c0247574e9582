"""Properties of held spend over random programs of holds, approvals, rejections, expiry (the
clock moves) and plain sends, on one session that holds anything over 5 ETH of a 10 ETH day.

After every step, at that instant:
- what the ledger counts as signed in the window never exceeds the daily limit, nor does what
  it counts held and signed together (`spent_in_window`);
- the window holds exactly the signed sends and the approvals still pending, each in the minute
  it was signed or held: a decision, an expiry or a sweep never leaves a held cost behind nor
  takes one out twice.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import window_start_ms
from session_studio.store import ApprovalStatus, Conflict, Session, Store

from ..conftest import DAY_MS, ETHER, MINUTE_MS, T0, reserve
from ._approval_steps import APPROVE_ABOVE, DAILY, TTL_MS, approval_session, approve, hold
from .conftest import BACKENDS, open_backend

_held_amounts = st.one_of(st.sampled_from([6 * ETHER, 8 * ETHER, DAILY, DAILY + 1]),
                          st.integers(APPROVE_ABOVE + 1, DAILY))
_sent_amounts = st.one_of(st.sampled_from([ETHER, 3 * ETHER, APPROVE_ABOVE]),
                          st.integers(0, APPROVE_ABOVE))
# Small steps keep requests competing for one window and one approval's TTL; large ones expire
# approvals and slide the window past what was held or signed.
_steps = st.sampled_from([MINUTE_MS, 10 * MINUTE_MS, TTL_MS, 6 * 60 * MINUTE_MS,
                          20 * 60 * MINUTE_MS, DAY_MS])
_op = st.one_of(
    st.tuples(st.just("hold"), _held_amounts),
    st.tuples(st.just("send"), _sent_amounts),
    st.tuples(st.just("approve"), st.integers(0, 10**6)),
    st.tuples(st.just("approve"), st.integers(0, 10**6)),
    st.tuples(st.just("reject"), st.integers(0, 10**6)),
    st.tuples(st.just("advance"), _steps),
    st.tuples(st.just("sweep"), st.just(0)),
)
_programs = st.lists(_op, min_size=5, max_size=25)
Op = tuple[str, int]


class _Model:
    """What the test knows was signed (minute, amount) and held (approval id -> minute,
    amount), kept in step with the store's own view of which approvals are still pending."""

    def __init__(self) -> None:
        self.now = T0
        self.signed: list[tuple[int, int]] = []
        self.pending: dict[str, tuple[int, int]] = {}
        self.approvals: list[str] = []

    def in_window(self, rows: list[tuple[int, int]]) -> int:
        first_minute = window_start_ms(self.now) // MINUTE_MS
        return sum(amount for minute, amount in rows if minute >= first_minute)


async def _step(store: Store, session: Session, model: _Model, op: Op) -> None:
    kind, arg = op
    if kind == "advance":
        model.now += arg
    elif kind == "sweep":
        await store.expire_approvals(now_ms=model.now)
    elif kind == "send":
        decision, _ = await reserve(store, session, arg, now_ms=model.now)
        if decision.allowed:
            model.signed.append((model.now // MINUTE_MS, arg))
    elif kind == "hold":
        decision, reservation, draft = await hold(store, session, arg, now_ms=model.now)
        if decision.held:
            assert reservation is not None
            model.pending[draft.id] = (model.now // MINUTE_MS, arg)
            model.approvals.append(draft.id)
    elif model.approvals:
        approval_id = model.approvals[arg % len(model.approvals)]
        try:
            if kind == "approve":
                approval, _, reservation, _ = await approve(store, session, approval_id,
                                                            now_ms=model.now)
                if approval.status is ApprovalStatus.APPROVED:
                    assert reservation is not None
                    model.signed.append((model.now // MINUTE_MS, reservation.amount))
            else:
                await store.reject_approval(approval_id, workspace_id=session.workspace_id,
                                            decided_by="bob", reason="no", now_ms=model.now)
        except Conflict:
            assert approval_id not in model.pending, "a pending approval was refused"
    for approval_id in list(model.pending):
        approval = await store.get_approval(approval_id, workspace_id=None)
        if approval.status is not ApprovalStatus.PENDING:
            del model.pending[approval_id]


async def _check(store: Store, session: Session, model: _Model) -> None:
    counted = await store.spent_in_window(session.lineage_id,
                                          window_start_ms=window_start_ms(model.now))
    signed = model.in_window(model.signed)
    held = model.in_window(list(model.pending.values()))
    assert signed <= DAILY, f"{signed} signed in the window at {model.now}"
    assert counted <= DAILY, f"{counted} held and signed in the window at {model.now}"
    assert counted == signed + held, (counted, signed, held)


def _run(backend: str, program: list[Op]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as home:
            store, _ = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace = await store.create_workspace("properties", now_ms=T0)
                session = await approval_session(store, workspace, lifetime_ms=30 * DAY_MS)
                model = _Model()
                for op in program:
                    await _step(store, session, model, op)
                    await _check(store, session, model)
            finally:
                await store.close()

    asyncio.run(run())


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs)
def test_held_and_signed_spend_never_exceed_the_daily_limit(backend: str,
                                                           program: list[Any]) -> None:
    _run(backend, program)
