"""SessionRepository contract: a live credential resolves to its owner and its sessions (what a
revoke does to it: test_session_revoke.py)."""

from __future__ import annotations

import os
from dataclasses import replace

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



async def test_a_sessions_approval_threshold_is_stored_exactly(store: Store,
                                                               workspace: Workspace) -> None:
    """Money columns keep every digit on both backends (TEXT on SQLite, NUMERIC on
    PostgreSQL), and no threshold reads back as None, never as 0."""
    held = replace(new_session(workspace), approve_above=10**30 + 7)
    never = new_session(workspace)
    for session in (held, never):
        await store.insert_session(session, sealed_key=os.urandom(96),
                                   credential_hash=os.urandom(32))
    assert (await store.get_session_by_id(held.id)).approve_above == 10**30 + 7
    assert (await store.get_session_by_id(never.id)).approve_above is None
