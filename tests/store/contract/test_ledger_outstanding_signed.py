"""Signed is not spent: the bound on held-back eth_signTransaction results (issue 10, item 6).

The reserving transaction counts the lineage's `eth_signTransaction` reservations that are still
`signed` (the chain has neither mined them nor passed their nonce) and the engine refuses one
more beyond `max_outstanding_signed` as `rate_limited`. Count and insert share the write lock,
so the bound is exact under concurrency and across processes (SQLite's two-process check:
tests/store/test_outstanding_signed.py); settlement (settle or release) frees a slot. Sends are
broadcast by the sidecar itself and are not counted.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import Decision, ReasonCode
from session_studio.store import (
    Reservation,
    ReservationStatus,
    Session,
    Store,
    Workspace,
    new_id,
)

from ..conftest import ETHER, T0, insert_session, reserve, transfer_evaluate
from .conftest import BACKENDS, LedgerProbe, open_backend

BOUND = 4
SIGN = "eth_signTransaction"


async def _sign(store: Store, session: Session, *, bound: int = BOUND,
                explicit_nonce: int | None = None) -> tuple[Decision, Reservation | None]:
    """One eth_signTransaction's ledger step, as the proxy makes it (the bound given)."""
    return await reserve(store, session, ETHER // 100, method=SIGN,
                         explicit_nonce=explicit_nonce,
                         evaluate=transfer_evaluate(session, ETHER // 100,
                                                    max_outstanding_signed=bound))


async def test_signatures_beyond_the_bound_are_refused_as_rate_limited(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    allowed = [(await _sign(store, session))[0].allowed for _ in range(BOUND)]
    refused, reservation = await _sign(store, session)
    assert allowed == [True] * BOUND
    assert refused.reason is ReasonCode.RATE_LIMITED and reservation is None
    assert dict(refused.figures) == {"outstanding_signed": str(BOUND),
                                     "max_outstanding_signed": str(BOUND)}


async def test_a_zero_bound_refuses_every_signature(store: Store,
                                                    workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    decision, _ = await _sign(store, session, bound=0)
    assert decision.reason is ReasonCode.RATE_LIMITED


async def test_sends_are_not_counted_against_the_bound(store: Store,
                                                       workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    for _ in range(BOUND + 2):
        decision, _ = await reserve(store, session, ETHER // 100)  # eth_sendTransaction
        assert decision.allowed
    assert (await _sign(store, session))[0].allowed


async def test_settled_and_released_signatures_free_their_slots(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    held = [r for _ in range(BOUND) if (r := (await _sign(store, session))[1]) is not None]
    assert await store.settle(held[0].id, amount=1, status=ReservationStatus.SETTLED,
                              now_ms=T0 + 1)
    assert await store.settle(held[1].id, amount=0, status=ReservationStatus.RELEASED,
                              now_ms=T0 + 1)
    assert [(await _sign(store, session))[0].allowed for _ in range(3)] == [True, True, False]


async def test_rotation_keeps_the_outstanding_signatures(store: Store,
                                                         workspace: Workspace) -> None:
    # The predecessor's signed transactions are as broadcastable as ever after a rotation.
    old = await insert_session(store, workspace)
    for _ in range(BOUND):
        await _sign(store, old)
    successor = replace(old, id=new_id(), key_hash=old.key_hash[:-4] + "beef",
                        predecessor_id=old.id)
    await store.rotate_session(old, successor, sealed_key=b"k" * 96,
                               credential_hash=None, now_ms=T0 + 1)
    decision, _ = await _sign(store, successor)
    assert decision.reason is ReasonCode.RATE_LIMITED


async def test_concurrent_signatures_never_exceed_the_bound(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    start = asyncio.Event()

    async def one() -> bool:
        await start.wait()
        return (await _sign(store, session))[0].allowed

    tasks = [asyncio.create_task(one()) for _ in range(50)]
    await asyncio.sleep(0)
    start.set()
    assert sum(await asyncio.gather(*tasks)) == BOUND
    assert probe.outstanding_signed(session.lineage_id) == BOUND


# -- property: over any program, admitted iff a slot is free; never more than the bound -------
_ops = st.lists(st.one_of(st.just(("sign",)), st.just(("send",)),
                          st.tuples(st.just("settle"), st.integers(0, 10**6)),
                          st.tuples(st.just("release"), st.integers(0, 10**6))),
                min_size=1, max_size=30)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=_ops, bound=st.integers(0, 5))
def test_outstanding_signatures_never_exceed_the_bound(backend: str,
                                                       program: list[tuple[Any, ...]],
                                                       bound: int) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as home:
            store, probe = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace = await store.create_workspace("outflow", now_ms=T0)
                session = await insert_session(store, workspace, per_tx=ETHER,
                                               daily=1000 * ETHER)
                held: list[Reservation] = []  # the model: signatures still outstanding
                for op in program:
                    if op[0] == "sign":
                        decision, reservation = await _sign(store, session, bound=bound)
                        assert decision.allowed == (len(held) < bound), (len(held), decision)
                        if reservation is not None:
                            held.append(reservation)
                    elif op[0] == "send":
                        assert (await reserve(store, session, ETHER // 100))[0].allowed
                    elif held:
                        ended = held.pop(op[1] % len(held))
                        status = (ReservationStatus.SETTLED if op[0] == "settle"
                                  else ReservationStatus.RELEASED)
                        assert await store.settle(ended.id, amount=0, status=status,
                                                  now_ms=T0 + 1)
                    assert probe.outstanding_signed(session.lineage_id) == len(held) <= bound
            finally:
                await store.close()

    asyncio.run(run())


@pytest.mark.parametrize("bound", [1, BOUND])
async def test_explicit_nonce_signatures_count_too(store: Store, workspace: Workspace,
                                                   bound: int) -> None:
    # Signatures made with the client's own (gap-free) nonces are held back just the same.
    session = await insert_session(store, workspace)
    decisions = [(await _sign(store, session, bound=bound, explicit_nonce=i))[0]
                 for i in range(bound + 1)]
    assert [d.allowed for d in decisions] == [True] * bound + [False]
