"""Workspaces isolate everything: a token or login of workspace `alpha` sees and touches nothing
of workspace `beta`. Another workspace's session is not found (404), never forbidden, so the
API does not even confirm that it exists."""

from __future__ import annotations

import pytest

from .conftest import AdminPlane, session_body

READS = ["", "/usage", "/events", "/export", "/snippet"]


@pytest.mark.parametrize("path", READS)
async def test_a_token_of_one_workspace_does_not_find_anothers_session(
        admin: AdminPlane, path: str) -> None:
    theirs = await admin.seed_session(workspace="beta")
    mine = await admin.writer("alpha")

    reply = await admin.get(f"/sessions/{theirs['key_hash']}{path}", auth=mine)

    assert reply.status == 404
    assert reply.error["code"] == "not_found"
    assert theirs["credential"] not in str(reply.body)


@pytest.mark.parametrize("action", ["revoke", "rotate"])
async def test_a_token_of_one_workspace_cannot_change_anothers_session(
        admin: AdminPlane, action: str) -> None:
    theirs = await admin.seed_session(workspace="beta")
    mine = await admin.writer("alpha")

    reply = await admin.post(f"/sessions/{theirs['key_hash']}/{action}", auth=mine)

    assert reply.status == 404
    owner = await admin.writer("beta")
    shown = await admin.get(f"/sessions/{theirs['key_hash']}", auth=owner)
    assert shown.body["status"] == "active"


async def test_a_login_of_one_workspace_does_not_find_anothers_session(
        admin: AdminPlane) -> None:
    theirs = await admin.seed_session(workspace="beta")
    login = await admin.register(workspace="alpha")

    reply = await admin.get(f"/sessions/{theirs['key_hash']}", auth=login)

    assert reply.status == 404


async def test_a_listing_shows_only_the_callers_workspace(admin: AdminPlane) -> None:
    mine = [await admin.seed_session(workspace="alpha", label=f"a{i}") for i in range(2)]
    await admin.seed_session(workspace="beta", label="b0")

    listed = await admin.get("/sessions", auth=await admin.writer("alpha"),
                             params={"limit": "200"})

    assert {s["key_hash"] for s in listed.body["items"]} == {s["key_hash"] for s in mine}


async def test_bulk_revoke_in_one_workspace_never_touches_another(admin: AdminPlane) -> None:
    mine = await admin.seed_session(workspace="alpha", label="payouts")
    theirs = await admin.seed_session(workspace="beta", label="payouts")

    reply = await admin.post("/sessions/bulk-revoke", {"label": "payouts"},
                             auth=await admin.writer("alpha"))

    assert reply.body["key_hashes"] == [mine["key_hash"]]
    shown = await admin.get(f"/sessions/{theirs['key_hash']}", auth=await admin.writer("beta"))
    assert shown.body["status"] == "active"


async def test_agents_of_another_workspace_are_neither_listed_nor_usable(
        admin: AdminPlane) -> None:
    await admin.register_agent(await admin.writer("beta"), "their-bot")
    mine = await admin.writer("alpha")

    listed = await admin.get("/agents", auth=mine)
    created = await admin.post("/sessions", session_body(agent="their-bot"), auth=mine)

    assert listed.body["items"] == []
    assert created.status in (404, 422)
    assert (await admin.get("/sessions", auth=mine)).body["items"] == []


async def test_an_agent_name_may_exist_in_two_workspaces(admin: AdminPlane) -> None:
    alpha = await admin.register_agent(await admin.writer("alpha"), "bot")
    beta = await admin.register_agent(await admin.writer("beta"), "bot")

    assert alpha["credential"] != beta["credential"]


async def test_a_login_sees_only_its_workspaces_tokens(admin: AdminPlane) -> None:
    await admin.token("sessions:read", workspace="beta")
    login = await admin.register(workspace="alpha")

    listed = await admin.get("/tokens", auth=login)

    assert listed.body["items"] == []


async def test_a_login_cannot_revoke_another_workspaces_token(admin: AdminPlane) -> None:
    theirs = await admin.token("sessions:read", workspace="beta")
    [token] = await admin.deps.accounts.list_api_tokens(admin.workspaces["beta"].id)
    login = await admin.register(workspace="alpha")

    reply = await admin.post(f"/tokens/{token.id}/revoke", auth=login)

    assert reply.status == 404
    assert (await admin.get("/sessions", auth=theirs)).status == 200


async def test_an_admin_logs_into_the_workspace_of_their_setup_link(admin: AdminPlane) -> None:
    login = await admin.register(workspace="beta", admin_name="bea")

    me = await admin.get("/auth/me", auth=login)
    created = await admin.create_session(login, type="app")

    assert me.body["workspace"] == "beta"
    listed = await admin.get("/sessions", auth=await admin.writer("beta"))
    assert [s["key_hash"] for s in listed.body["items"]] == [created["key_hash"]]


async def test_the_audit_trail_shows_only_the_callers_workspace(admin: AdminPlane) -> None:
    await admin.seed_session(workspace="beta", label="theirs")
    mine = await admin.seed_session(workspace="alpha", label="mine")

    reply = await admin.get("/audit", auth=await admin.token("sessions:read"))

    subjects = {e["subject"] for e in reply.body["items"]}
    assert mine["key_hash"] in subjects
    assert all(e["subject"] != "beta" for e in reply.body["items"])
    assert len([e for e in reply.body["items"] if e["action"] == "session.create"]) == 1
