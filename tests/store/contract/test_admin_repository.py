"""AdminRepository contract: names are unique per workspace and single-use things are used
once, decided by the writing transaction."""

from __future__ import annotations

import asyncio
import os

import pytest
from session_studio.store import Admin, Conflict, Passkey, SetupLink, Store, Workspace, new_id

from ..conftest import DAY_MS, T0


async def _link(store: Store, workspace: Workspace, name: str) -> bytes:
    token_hash = os.urandom(32)
    await store.create_setup_link(SetupLink(token_hash=token_hash, workspace_id=workspace.id,
                                            admin_name=name, created_at_ms=T0,
                                            expires_at_ms=T0 + DAY_MS))
    return token_hash


def _admin(workspace: Workspace, name: str) -> tuple[Admin, Passkey]:
    admin = Admin(id=new_id(), workspace_id=workspace.id, name=name,
                  user_handle=os.urandom(16), created_at_ms=T0)
    return admin, Passkey(credential_id=os.urandom(16), admin_id=admin.id,
                          public_key=os.urandom(32), sign_count=0, backed_up=False,
                          created_at_ms=T0)


async def test_a_second_admin_of_the_same_name_is_a_conflict(store: Store,
                                                             workspace: Workspace) -> None:
    first, second = await _link(store, workspace, "ops"), await _link(store, workspace, "ops")
    await store.register_admin(*_admin(workspace, "ops"), setup_hash=first, now_ms=T0 + 1)
    with pytest.raises(Conflict):
        await store.register_admin(*_admin(workspace, "ops"), setup_hash=second, now_ms=T0 + 2)
    assert [a.name for a in await store.list_admins(workspace.id)] == ["ops"]


async def test_a_setup_link_redeemed_by_two_racing_requests_makes_one_admin(
        store: Store, workspace: Workspace) -> None:
    link = await _link(store, workspace, "racer")
    outcomes = await asyncio.gather(
        *(store.register_admin(*_admin(workspace, "racer"), setup_hash=link, now_ms=T0 + 1)
          for _ in range(2)), return_exceptions=True)
    assert sum(o is None for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
    assert await store.setup_link(link, now_ms=T0 + 2) is None
