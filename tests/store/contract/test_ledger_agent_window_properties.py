"""Properties of the self-service window over random agent programs (POLICY.md, "Limits").

An agent with a self-service ceiling (daily 10 ETH, per request 4 ETH) runs a random program:
create a session for itself (random limits and lifetime), revoke one, rotate one, spend with
one, release or settle a reservation, and let time pass (so sessions expire and the 24 h window
slides). An operator-made session of the same agent spends beside them. After every step:

- no 24 h window ever holds more than the ceiling's daily limit in what the agent's
  self-created sessions reserved (released rows excluded, settled rows at their settled amount),
  however many of them were revoked, recreated, rotated or expired meanwhile;
- the agent's window buckets equal, minute by minute, what its self-created lineages hold;
- every spend is admitted exactly when it fits: the session is usable, and the request fits
  per-tx, the session's own window and the agent's window (whole-minute windows, as stored).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import Permission
from session_studio.store import (
    AgentCeiling,
    Reservation,
    ReservationStatus,
    Session,
    SessionType,
    Store,
    Workspace,
    new_id,
)

from ..conftest import DAY_MS, ETHER, MINUTE_MS, T0, new_session, reserve
from .conftest import BACKENDS, LedgerProbe, open_backend

CEILING_DAILY = 10 * ETHER
CEILING_PER_TX = 4 * ETHER
CEILING = AgentCeiling(permissions=(Permission.TRANSFER,), chain_ids=(31337,), tokens=("ETH",),
                       limit_unit="ETH", per_tx=CEILING_PER_TX, daily=CEILING_DAILY,
                       max_lifetime_s=3 * 86400, max_live_sessions=1000)

_lifetimes = st.sampled_from([DAY_MS, 3 * DAY_MS, DAY_MS // 2, 30 * MINUTE_MS, MINUTE_MS])
_amounts = st.one_of(st.sampled_from([CEILING_PER_TX, 3 * ETHER, 2 * ETHER, ETHER]),
                     st.integers(0, 5 * ETHER))
_which = st.integers(0, 5)
# Generous sessions (up to the ceiling itself) are the ones that could overshoot together.
_create = st.tuples(st.just("create"), st.sampled_from([4, 3, 2, 1]),
                    st.sampled_from([10, 8, 5, 1]), _lifetimes)
_spend = st.one_of(st.tuples(st.just("spend"), _which, _amounts),
                   st.tuples(st.just("operator_spend"), _amounts))
_churn = st.one_of(
    st.tuples(st.just("revoke"), _which),
    st.tuples(st.just("rotate"), _which),
    st.tuples(st.just("release"), _which),
    st.tuples(st.just("settle"), _which, st.fractions(0, 1)),
    st.tuples(st.just("wait"), st.one_of(
        st.integers(1_000, 30 * MINUTE_MS),
        st.sampled_from([6 * 3_600_000, DAY_MS - 30_000, DAY_MS + 61_000]))),
)
# Rounds of the attack's shape: create a session, spend with the agent's sessions, churn
# (revoke, rotate, release, settle, let time pass), and again.
_round = st.tuples(st.lists(_create, max_size=1), st.lists(_spend, min_size=2, max_size=5),
                   st.lists(_churn, max_size=2))
_programs = st.lists(_round, min_size=4, max_size=10).map(
    lambda rounds: [op for r in rounds for part in r for op in part])
_PROPERTY = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@dataclass
class _Agent:
    """The program's world: the store, the clock, and what exists so far."""

    store: Store
    probe: LedgerProbe
    workspace: Workspace
    agent_id: str
    now: int = T0
    sessions: list[Session] = field(default_factory=list)  # self-created, newest per lineage
    held: list[Reservation] = field(default_factory=list)

    def pick(self, index: int) -> Session | None:
        """0 is the newest session, 1 the one before, and so on (wrapping around)."""
        return self.sessions[-1 - index % len(self.sessions)] if self.sessions else None

    def session(self, *, per_tx: int, daily: int, lifetime_ms: int,
                lineage: Session | None = None) -> Session:
        made = new_session(self.workspace, per_tx=per_tx, daily=daily, created_at_ms=self.now,
                           lifetime_ms=lifetime_ms,
                           lineage_id=None if lineage is None else lineage.lineage_id,
                           predecessor_id=None if lineage is None else lineage.id)
        return replace(made, type=SessionType.AGENT, agent_id=self.agent_id,
                       agent_name="churner", limit_unit="ETH")


def _check_window_and_buckets(world: _Agent) -> None:
    rows = world.probe.agent_rows(world.agent_id, self_service=True)
    for end, _, _, _ in rows:
        in_window = sum(a for t, _, a, _ in rows if end - DAY_MS < t <= end)
        assert in_window <= CEILING_DAILY, f"{in_window} held in the 24 h ending {end}"
    expected: dict[int, int] = defaultdict(int)
    for _, minute, amount, _ in rows:
        expected[minute] += amount
    buckets = world.probe.agent_buckets(world.agent_id)
    for minute in set(expected) | set(buckets):
        assert buckets.get(minute, 0) == expected.get(minute, 0), f"minute {minute}"


async def _expected_admission(world: _Agent, session: Session, amount: int, *,
                              self_service: bool) -> bool:
    stored = await world.store.get_session_by_id(session.id)
    if stored.revoked_at_ms is not None or world.now >= session.expires_at_ms:
        return False
    first_minute = (world.now - DAY_MS) // MINUTE_MS
    lineage = sum(a for _, m, a, lin in world.probe.agent_rows(world.agent_id,
                                                               self_service=False)
                  if lin == session.lineage_id and m >= first_minute)
    fits = amount <= session.per_tx_limit and lineage + amount <= session.daily_limit
    if not self_service:
        return fits
    agent = sum(a for _, m, a, _ in world.probe.agent_rows(world.agent_id, self_service=True)
                if m >= first_minute)
    return fits and agent + amount <= CEILING_DAILY


async def _step(world: _Agent, op: tuple[Any, ...], operator: Session) -> None:
    kind = op[0]
    if kind == "create":
        _, per_tx, daily, lifetime = op
        made = world.session(per_tx=min(per_tx, daily) * ETHER, daily=daily * ETHER,
                             lifetime_ms=lifetime)
        await world.store.insert_session(made, sealed_key=os.urandom(96), credential_hash=None,
                                         self_service=True)
        world.sessions.append(made)
    elif kind in ("spend", "operator_spend"):
        session = operator if kind == "operator_spend" else world.pick(op[1])
        if session is None:
            return
        amount = op[-1]
        expected = await _expected_admission(world, session, amount,
                                             self_service=kind == "spend")
        decision, reservation = await reserve(world.store, session, amount, now_ms=world.now)
        assert decision.allowed == expected, (decision, op)
        if reservation is not None:
            world.held.append(reservation)
    elif kind in ("revoke", "rotate"):
        old = world.pick(op[1])
        if old is None or (
                await world.store.get_session_by_id(old.id)).revoked_at_ms is not None:
            return
        if kind == "revoke":
            await world.store.revoke_session(old.id, now_ms=world.now)
            return
        successor = world.session(per_tx=old.per_tx_limit, daily=old.daily_limit,
                                  lifetime_ms=max(old.expires_at_ms - world.now, 1),
                                  lineage=old)
        await world.store.rotate_session(old, successor, sealed_key=os.urandom(96),
                                         credential_hash=None, now_ms=world.now)
        world.sessions[world.sessions.index(old)] = successor
    elif kind == "release" and world.held:
        await world.store.release(world.held[op[1] % len(world.held)], now_ms=world.now,
                                  return_nonce=False)
    elif kind == "settle" and world.held:
        held = world.held[op[1] % len(world.held)]
        status = world.probe.reservation_status(held.id)
        if status == "signed":
            await world.store.record_outcome(held, status=ReservationStatus.BROADCAST,
                                             now_ms=world.now)
            await world.store.settle(held.id, amount=int(held.amount * op[2]),
                                     status=ReservationStatus.SETTLED, now_ms=world.now)
    elif kind == "wait":
        world.now += op[1]


def _run(backend: str, program: list[tuple[Any, ...]]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as home:
            store, probe = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace = await store.create_workspace("windows", now_ms=T0)
                agent = await store.create_agent(
                    workspace.id, "churner", daily_budget=None, now_ms=T0,
                    credential_hash=os.urandom(32), agent_id=new_id(), ceiling=CEILING)
                world = _Agent(store=store, probe=probe, workspace=workspace,
                               agent_id=agent.id)
                operator = world.session(per_tx=4 * ETHER, daily=10 * ETHER,
                                         lifetime_ms=10 * DAY_MS)
                await store.insert_session(operator, sealed_key=os.urandom(96),
                                           credential_hash=None)
                for op in program:
                    await _step(world, op, operator)
                    _check_window_and_buckets(world)
            finally:
                await store.close()

    asyncio.run(run())


@pytest.mark.parametrize("backend", BACKENDS)
@_PROPERTY
@given(_programs)
def test_self_created_sessions_never_together_exceed_the_ceiling_daily_limit(
        backend: str, program: list[tuple[Any, ...]]) -> None:
    _run(backend, program)
