"""Nonce arithmetic is safe for every nonce a client may send (EIP-2681: below 2**64 - 1).

The ledger keeps nonces in signed 64-bit integers; a client's nonce near 2**63 used to move the
counter there, and the next nonce the sidecar picked overflowed the column: every later send of
the session failed. Now a nonce beyond MAX_LEDGER_NONCE is refused before anything is written,
a far-ahead nonce leaves the counter where it was, and the session keeps working.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.store import (
    MAX_LEDGER_NONCE,
    NonceGap,
    NonceOutOfRange,
    Reservation,
    Session,
    Store,
    Workspace,
)

from ..conftest import T0, insert_session, reserve
from .conftest import BACKENDS, LedgerProbe, open_backend

SQLITE_INTEGER_MAX = 2**63 - 1
EIP_2681_MAX = 2**64 - 2  # the largest nonce a transaction may carry


def _counter(probe: LedgerProbe, session: Session) -> int | None:
    return probe.next_nonce(session.address)


async def test_nonce_near_2_63_is_a_gap_and_the_session_keeps_working(
        store: Store, workspace: Workspace, probe: LedgerProbe) -> None:
    session = await insert_session(store, workspace)
    _, first = await reserve(store, session, 0)
    with pytest.raises(NonceGap):
        await reserve(store, session, 0, explicit_nonce=MAX_LEDGER_NONCE)
    _, following = await reserve(store, session, 0)
    assert first is not None and following is not None
    assert (first.nonce, following.nonce) == (0, 1)
    assert _counter(probe, session) == 2


@pytest.mark.parametrize("nonce", [MAX_LEDGER_NONCE + 1, 2**63, EIP_2681_MAX])
async def test_nonce_beyond_the_ledger_is_refused_and_nothing_is_written(
        store: Store, workspace: Workspace, nonce: int) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, 0)
    signed: list[int | None] = []

    def sign(picked: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
        signed.append(picked)
        return b"sig", "0x" + "ab" * 32, b"raw"

    with pytest.raises(NonceOutOfRange):
        await reserve(store, session, 0, explicit_nonce=nonce, sign=sign)
    assert signed == []
    assert len(await store.reservations(session.id)) == 1
    _, following = await reserve(store, session, 0)
    assert following is not None and following.nonce == 1


async def test_an_upstream_pending_count_beyond_the_ledger_signs_nothing(
        store: Store, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    with pytest.raises(NonceOutOfRange):
        await reserve(store, session, 0, upstream_pending=2**64 - 1)
    _, following = await reserve(store, session, 0, upstream_pending=3)
    assert following is not None and following.nonce == 3


# -- property: any program of picks, explicit nonces and releases ------------------------------
_explicit = st.one_of(st.integers(0, 12), st.integers(0, EIP_2681_MAX),
                      st.integers(MAX_LEDGER_NONCE - 3, MAX_LEDGER_NONCE + 3))
_programs = st.lists(st.one_of(
    st.tuples(st.just("pick"), st.integers(0, 12)),
    st.tuples(st.just("explicit"), _explicit),
    st.tuples(st.just("release"), st.integers(0, 10**6), st.booleans()),
), min_size=1, max_size=30)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs)
def test_nonce_arithmetic_never_overflows_and_picks_never_collide(
        backend: str, program: list[tuple[Any, ...]]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as home:
            store, probe = open_backend(backend, Path(home))
            await store.open()
            try:
                workspace: Workspace = await store.create_workspace("nonces", now_ms=T0)
                session = await insert_session(store, workspace)
                held: list[Reservation] = []
                for step, op in enumerate(program):
                    now = T0 + step
                    if op[0] == "release":
                        if held:
                            await store.release(held[op[1] % len(held)], now_ms=now,
                                                return_nonce=op[2])
                        continue
                    explicit = op[1] if op[0] == "explicit" else None
                    pending = op[1] if op[0] == "pick" else 0
                    live = probe.live_nonces()
                    before = _counter(probe, session)
                    try:
                        _, reservation = await reserve(store, session, 0, now_ms=now,
                                                       upstream_pending=pending,
                                                       explicit_nonce=explicit)
                    except NonceOutOfRange:
                        assert explicit is not None and explicit > MAX_LEDGER_NONCE
                        assert _counter(probe, session) == before
                        continue
                    except NonceGap:
                        # Past the next nonce: never signed, and the counter stays.
                        next_nonce = before if before is not None else 0
                        assert explicit is not None and explicit > next_nonce
                        assert _counter(probe, session) == before
                        continue
                    assert reservation is not None and reservation.nonce is not None
                    held.append(reservation)
                    if explicit is None:
                        # A picked nonce is never one a live reservation holds.
                        assert reservation.nonce not in live
                    else:
                        assert reservation.nonce == explicit
                    counter = _counter(probe, session)
                    assert counter is not None and counter <= SQLITE_INTEGER_MAX
                # Whatever happened, the session still signs with a picked nonce.
                _, last = await reserve(store, session, 0, now_ms=T0 + len(program))
                assert last is not None and last.nonce is not None
                assert last.nonce <= 12 + len(program)
            finally:
                await store.close()

    asyncio.run(run())
