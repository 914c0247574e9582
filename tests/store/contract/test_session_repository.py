"""SessionRepository contract: a live credential resolves to its owner and its sessions (what a
revoke does to it: test_session_revoke.py)."""

from __future__ import annotations

import os

from session_studio.store import CredentialOwner, Store, Workspace

from ..conftest import new_session


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

