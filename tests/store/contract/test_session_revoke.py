"""Revoke, as every backend must do it: marked revoked, key destroyed, credential dead, and no
signature once it returned. (That the key's bytes are gone from the file is SQLite's own check:
tests/store/test_revoke.py.)"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from session_studio.policy import ReasonCode
from session_studio.store import Conflict, Session, Store, Workspace

from ..conftest import ETHER, T0, new_session, reserve

REVOKED_AT = T0 + 5_000


async def _session_with(store: Store, workspace: Workspace, *, sealed: bytes,
                        token_hash: bytes) -> Session:
    session = new_session(workspace)
    await store.insert_session(session, sealed_key=sealed, credential_hash=token_hash)
    return session


async def _revoked(store: Store, workspace: Workspace) -> tuple[Session, bytes, bytes]:
    sealed, token_hash = os.urandom(96), os.urandom(32)
    session = await _session_with(store, workspace, sealed=sealed, token_hash=token_hash)
    await store.revoke_session(session.id, now_ms=REVOKED_AT)
    return session, sealed, token_hash


async def test_revoke_sets_revoked_at(store: Store, workspace: Workspace) -> None:
    session, _, _ = await _revoked(store, workspace)
    assert (await store.get_session_by_id(session.id)).revoked_at_ms == REVOKED_AT


async def test_revoke_leaves_other_sessions_keys_and_credentials_alone(
        store: Store, workspace: Workspace) -> None:
    other_sealed, other_token = os.urandom(96), os.urandom(32)
    other = await _session_with(store, workspace, sealed=other_sealed, token_hash=other_token)
    await _revoked(store, workspace)
    assert await store.sealed_key(other.id) == other_sealed
    assert await store.resolve_credential(other_token) is not None


async def test_reserve_after_revoke_is_refused_without_signing(store: Store,
                                                               workspace: Workspace) -> None:
    session, _, _ = await _revoked(store, workspace)
    signed: list[int | None] = []

    def sign(nonce: int | None, sealed_key: bytes | None) -> tuple[bytes, str, bytes]:
        signed.append(nonce)
        return b"sig", "0x" + "ab" * 32, b"raw"

    decision, reservation = await reserve(store, session, ETHER, now_ms=REVOKED_AT + 1,
                                          sign=sign)
    assert (decision.reason, reservation, signed) == (ReasonCode.SESSION_REVOKED, None, [])


async def test_revoking_a_revoked_session_is_a_conflict(store: Store,
                                                        workspace: Workspace) -> None:
    session, _, _ = await _revoked(store, workspace)
    with pytest.raises(Conflict):
        await store.revoke_session(session.id, now_ms=REVOKED_AT + 1)


async def test_revoke_destroys_the_sealed_key(store: Store, workspace: Workspace) -> None:
    session, _, _ = await _revoked(store, workspace)
    assert await store.sealed_key(session.id) is None


async def test_revoke_ends_the_sessions_credential(store: Store, workspace: Workspace) -> None:
    _, _, token_hash = await _revoked(store, workspace)
    assert await store.resolve_credential(token_hash) is None


async def test_a_revoke_waits_for_the_signature_in_flight_and_no_signature_follows_it(
        store: Store, workspace: Workspace) -> None:
    session = await _session_with(store, workspace, sealed=os.urandom(96),
                                  token_hash=os.urandom(32))
    signing, finish = threading.Event(), threading.Event()

    def slow_sign(nonce: int | None, sealed_key: bytes | None) -> tuple[bytes, str, bytes]:
        signing.set()
        assert finish.wait(10)
        return b"sig", "0x" + "ab" * 32, b"raw"

    reserving = asyncio.create_task(reserve(store, session, ETHER, sign=slow_sign))
    assert await asyncio.to_thread(signing.wait, 10)
    revoking = asyncio.create_task(store.revoke_session(session.id, now_ms=REVOKED_AT))
    # Not a clock: a revoke that returned while `slow_sign` still holds the lock would be
    # done by now.
    await asyncio.sleep(0.2)
    assert not revoking.done()
    finish.set()
    decision, reservation = await reserving
    await revoking
    assert decision.allowed and reservation is not None
    after, none = await reserve(store, session, ETHER, now_ms=REVOKED_AT + 1)
    assert (after.reason, none) == (ReasonCode.SESSION_REVOKED, None)
