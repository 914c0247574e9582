"""AdminRepository contract: names are unique per workspace and single-use things are used
once, decided by the writing transaction."""

from __future__ import annotations

import asyncio
import os

import pytest
from session_studio.store import (
    Admin,
    AdminLogin,
    ApiToken,
    Challenge,
    ChallengePurpose,
    Conflict,
    Passkey,
    Scope,
    SetupLink,
    Store,
    Workspace,
    new_id,
)

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


async def test_invites_racing_for_a_name_an_admin_holds_are_all_refused(
        store: Store, workspace: Workspace) -> None:
    links = [SetupLink(token_hash=os.urandom(32), workspace_id=workspace.id,
                       admin_name="twin", created_at_ms=T0, expires_at_ms=T0 + DAY_MS)
             for _ in range(2)]
    await store.register_admin(*_admin(workspace, "twin"),
                               setup_hash=await _link(store, workspace, "twin"), now_ms=T0)
    outcomes = await asyncio.gather(*(store.invite_admin(link, now_ms=T0 + 1) for link in links),
                                    return_exceptions=True)
    assert all(isinstance(o, Conflict) for o in outcomes)


async def test_a_challenge_is_taken_once(store: Store, workspace: Workspace) -> None:
    challenge = Challenge(id=new_id(), purpose=ChallengePurpose.LOGIN,
                          challenge=os.urandom(32), expires_at_ms=T0 + DAY_MS,
                          workspace_id=workspace.id, user_handle=os.urandom(16))
    await store.save_challenge(challenge, now_ms=T0)
    taken = await asyncio.gather(*(store.take_challenge(challenge.id, ChallengePurpose.LOGIN,
                                                        now_ms=T0 + 1) for _ in range(2)))
    assert sorted(taken, key=lambda c: c is None) == [challenge, None]


async def test_a_passkeys_sign_count_only_moves_forward(store: Store,
                                                        workspace: Workspace) -> None:
    admin, passkey = _admin(workspace, "counter")
    await store.register_admin(admin, passkey, now_ms=T0,
                               setup_hash=await _link(store, workspace, "counter"))
    await store.record_assertion(passkey.credential_id, sign_count=9, now_ms=T0 + 1)
    await store.record_assertion(passkey.credential_id, sign_count=4, now_ms=T0 + 2)
    stored = await store.get_passkey(passkey.credential_id)
    assert stored is not None and (stored.sign_count, stored.last_used_at_ms) == (9, T0 + 2)


async def test_a_revoked_api_token_resolves_to_nobody(store: Store,
                                                      workspace: Workspace) -> None:
    token, token_hash = ApiToken(id=new_id(), workspace_id=workspace.id, name="ci",
                                 scopes=(Scope.SESSIONS_READ,), created_by=None,
                                 created_at_ms=T0, expires_at_ms=None), os.urandom(32)
    await store.create_api_token(token, token_hash=token_hash)
    assert await store.resolve_api_token(token_hash, now_ms=T0 + 1) == token
    await store.revoke_api_token(workspace.id, token.id, now_ms=T0 + 2)
    assert await store.resolve_api_token(token_hash, now_ms=T0 + 3) is None
    with pytest.raises(Conflict):
        await store.revoke_api_token(workspace.id, token.id, now_ms=T0 + 4)


async def test_an_ended_login_resolves_to_nobody(store: Store, workspace: Workspace) -> None:
    admin, passkey = _admin(workspace, "browser")
    await store.register_admin(admin, passkey, now_ms=T0,
                               setup_hash=await _link(store, workspace, "browser"))
    login = AdminLogin(token_hash=os.urandom(32), admin_id=admin.id, workspace_id=workspace.id,
                       created_at_ms=T0, expires_at_ms=T0 + DAY_MS, last_assertion_at_ms=T0,
                       passkey_id=passkey.credential_id)
    await store.create_login(login)
    assert await store.get_login(login.token_hash, now_ms=T0 + 1) == login
    await store.end_login(login.token_hash, now_ms=T0 + 2)
    assert await store.get_login(login.token_hash, now_ms=T0 + 3) is None
