"""SessionRepository contract: a credential resolves while it is live, and a revoke ends it,
the key and the signing together."""

from __future__ import annotations

import os

from session_studio.policy import ReasonCode
from session_studio.store import CredentialOwner, Store, Workspace

from ..conftest import ETHER, T0, new_session, reserve


async def test_a_live_credential_resolves_to_its_session(store: Store,
                                                         workspace: Workspace) -> None:
    session, credential = new_session(workspace), os.urandom(32)
    await store.insert_session(session, sealed_key=os.urandom(96), credential_hash=credential)
    owner = await store.resolve_credential(credential)
    assert owner == CredentialOwner(workspace_id=workspace.id, kind="session",
                                    owner_id=session.id)
    assert [s.id for s in await store.sessions_of(owner)] == [session.id]


async def test_an_unknown_credential_resolves_to_nobody(store: Store,
                                                        workspace: Workspace) -> None:
    assert await store.resolve_credential(os.urandom(32)) is None


async def test_revoke_ends_the_credential_the_key_and_the_signing(store: Store,
                                                                  workspace: Workspace) -> None:
    session, credential = new_session(workspace), os.urandom(32)
    await store.insert_session(session, sealed_key=os.urandom(96), credential_hash=credential)
    await store.revoke_session(session.id, now_ms=T0 + 1)
    assert await store.resolve_credential(credential) is None
    assert await store.sealed_key(session.id) is None
    decision, reservation = await reserve(store, session, ETHER, now_ms=T0 + 2)
    assert decision.reason is ReasonCode.SESSION_REVOKED and reservation is None
