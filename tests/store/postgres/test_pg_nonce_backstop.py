"""The unique index behind the nonce pool: whatever a bug did, one live pool nonce per signer.

The SIGNER lock already makes the pool hand a nonce out once; these rows are written around
the store, as a bug would, to show the database itself refuses the second one.
"""

from __future__ import annotations

import psycopg
import pytest
from session_studio.store import PostgresStore, Workspace

from ..conftest import CHAIN_ID, ETHER, T0, insert_session, reserve

pytestmark = pytest.mark.e2e
_COPY = ("INSERT INTO reservations (id, session_id, lineage_id, minute, amount, status, method,"
         " chain_id, nonce, address_lower, nonce_from_pool, created_at, updated_at)"
         " SELECT 'copy', session_id, lineage_id, minute, amount, %s, method, chain_id, nonce,"
         " address_lower, %s, created_at, updated_at FROM reservations WHERE nonce = %s")


async def test_a_second_live_pool_reservation_of_one_nonce_cannot_be_written(
        store: PostgresStore, pg_url: str, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, reservation = await reserve(store, session, ETHER)
    assert reservation is not None and reservation.nonce == 0
    with psycopg.connect(pg_url, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(_COPY, ("signed", True, 0))


async def test_a_released_pool_reservation_does_not_hold_its_nonce(
        store: PostgresStore, pg_url: str, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    _, reservation = await reserve(store, session, ETHER)
    assert reservation is not None
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(_COPY, ("released", True, 0))


async def test_an_explicit_replacement_may_share_a_live_nonce(
        store: PostgresStore, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, ETHER)
    decision, replacement = await reserve(store, session, ETHER, explicit_nonce=0)
    assert decision.allowed and replacement is not None and replacement.nonce == 0


async def test_reservations_record_their_signer_for_the_backstop(
        store: PostgresStore, pg_url: str, workspace: Workspace) -> None:
    session = await insert_session(store, workspace)
    await reserve(store, session, ETHER, now_ms=T0)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute("SELECT chain_id, address_lower, nonce, nonce_from_pool"
                            " FROM reservations").fetchall()
    assert rows == [(CHAIN_ID, session.address.lower(), 0, True)]
