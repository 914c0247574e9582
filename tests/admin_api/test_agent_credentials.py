"""`POST /agents/{name}/reissue` and `POST /agents/{name}/disable`: cutting off an agent
credential through the API (CONTRACT.md, "Admin plane"). Both need the `agents:write` scope (or a
logged-in admin with the CSRF header); another workspace's agent is not found.

Whether a credential works is asked of the store exactly as the RPC plane asks it on every
request (`resolve_credential`, no cache); the running `serve` is tried in
tests/e2e/test_agent_credentials.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from session_studio.basics import credential_hash

from .conftest import AdminPlane, Auth, Login

AGENT = "payments-bot"


async def _works(admin: AdminPlane, credential: str) -> bool:
    return await admin.studio.store.resolve_credential(credential_hash(credential)) is not None


async def _agent_with_sessions(admin: AdminPlane, auth: Auth, count: int = 2
                               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    registered = await admin.register_agent(auth, AGENT)
    sessions = [await admin.seed_session(type="agent", agent=AGENT, label=f"s{i}")
                for i in range(count)]
    return registered, sessions


# -- reissue --------------------------------------------------------------------------------
async def test_reissue_answers_a_new_credential_and_the_old_one_stops_working(
        admin: AdminPlane) -> None:
    writer = await admin.writer()
    registered, _ = await _agent_with_sessions(admin, writer)

    reply = await admin.post(f"/agents/{AGENT}/reissue", auth=writer)

    assert reply.status == 200, reply.body
    new = reply.body["credential"]
    assert new.startswith("sst_") and new != registered["credential"]
    assert not await _works(admin, registered["credential"])
    assert await _works(admin, new)


async def test_an_export_after_a_reissue_carries_the_new_credential(admin: AdminPlane) -> None:
    writer = await admin.writer()
    _, sessions = await _agent_with_sessions(admin, writer, count=1)
    new = (await admin.post(f"/agents/{AGENT}/reissue", auth=writer)).body["credential"]

    exported = await admin.get(f"/sessions/{sessions[0]['key_hash']}/export", auth=writer)

    assert exported.body["credential"] == new


async def test_each_reissue_kills_the_one_before(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await _agent_with_sessions(admin, writer, count=0)
    first = (await admin.post(f"/agents/{AGENT}/reissue", auth=writer)).body["credential"]
    second = (await admin.post(f"/agents/{AGENT}/reissue", auth=writer)).body["credential"]

    assert not await _works(admin, first)
    assert await _works(admin, second)


async def test_reissue_is_in_the_audit_trail_without_the_credential(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await _agent_with_sessions(admin, writer, count=0)
    new = (await admin.post(f"/agents/{AGENT}/reissue", auth=writer)).body["credential"]

    audit = await admin.get("/audit", auth=writer, params={"subject": AGENT})

    assert [e["action"] for e in audit.body["items"]] == ["agent.register", "agent.reissue"]
    assert new not in str(audit.body)


async def test_a_logged_in_admin_reissues_with_the_csrf_header(admin: AdminPlane) -> None:
    login = await admin.register()
    await _agent_with_sessions(admin, await admin.writer(), count=0)

    refused = await admin.post(f"/agents/{AGENT}/reissue", auth=login, csrf=None)
    reply = await admin.post(f"/agents/{AGENT}/reissue", auth=login)

    assert refused.status == 403 and refused.error["code"] == "csrf_failed"
    assert reply.status == 200 and await _works(admin, reply.body["credential"])


@pytest.mark.parametrize("action", ["reissue", "disable"])
async def test_a_sessions_token_cannot_reissue_or_disable_an_agent(
        admin: AdminPlane, action: str) -> None:
    registered, _ = await _agent_with_sessions(admin, await admin.writer(), count=0)
    sessions_only = await admin.token("sessions:read", "sessions:write")

    reply = await admin.post(f"/agents/{AGENT}/{action}", auth=sessions_only)

    assert reply.status == 403 and reply.error["code"] == "insufficient_scope"
    assert await _works(admin, registered["credential"])


@pytest.mark.parametrize("action", ["reissue", "disable"])
async def test_an_agent_of_another_workspace_is_not_found(admin: AdminPlane,
                                                          action: str) -> None:
    theirs, _ = await _agent_with_sessions(admin, await admin.writer("beta"), count=0)

    reply = await admin.post(f"/agents/{AGENT}/{action}", auth=await admin.writer("alpha"))

    assert reply.status == 404
    assert await _works(admin, theirs["credential"])


@pytest.mark.parametrize("name", ["nobody", "bad%20name", "a" * 101])
async def test_reissuing_an_unknown_or_malformed_name_is_not_found(admin: AdminPlane,
                                                                   name: str) -> None:
    reply = await admin.post(f"/agents/{name}/reissue", auth=await admin.writer())
    assert reply.status == 404


# -- disable --------------------------------------------------------------------------------
async def test_disable_kills_the_credential_and_revokes_every_session(
        admin: AdminPlane) -> None:
    writer = await admin.writer()
    registered, sessions = await _agent_with_sessions(admin, writer)

    reply = await admin.post(f"/agents/{AGENT}/disable", auth=writer)

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "disabled" and reply.body["active_sessions"] == 0
    assert sorted(reply.body["revoked"]) == sorted(s["key_hash"] for s in sessions)
    assert not await _works(admin, registered["credential"])
    for session in sessions:
        shown = await admin.get(f"/sessions/{session['key_hash']}", auth=writer)
        assert shown.body["status"] == "revoked"
        stored = await admin.studio.store.get_session(admin.workspaces["alpha"].id,
                                                      session["key_hash"])
        assert await admin.studio.store.sealed_key(stored.id) is None


async def test_a_disabled_agent_gets_no_credential_and_no_session(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await _agent_with_sessions(admin, writer, count=0)
    await admin.post(f"/agents/{AGENT}/disable", auth=writer)

    reissue = await admin.post(f"/agents/{AGENT}/reissue", auth=writer)
    create = await admin.post("/sessions", {
        "type": "agent", "agent": AGENT, "label": "after", "chain_ids": [31337],
        "permissions": ["transfer"], "tokens": ["ETH"], "per_tx_limit": "1",
        "daily_limit": "1", "expires_in": "1h"}, auth=writer)
    again = await admin.post(f"/agents/{AGENT}/disable", auth=writer)

    assert [reissue.status, create.status, again.status] == [409, 409, 409]


async def test_the_agents_listing_shows_a_disabled_agent(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await _agent_with_sessions(admin, writer, count=0)
    await admin.post(f"/agents/{AGENT}/disable", auth=writer)

    listed = (await admin.get("/agents", auth=writer)).body["items"]

    assert [(a["name"], a["status"]) for a in listed] == [(AGENT, "disabled")]
    assert listed[0]["disabled_at"] is not None


async def test_disable_is_audited_with_each_revoked_session(admin: AdminPlane) -> None:
    writer = await admin.writer()
    _, sessions = await _agent_with_sessions(admin, writer)
    await admin.post(f"/agents/{AGENT}/disable", auth=writer)

    entries = (await admin.get("/audit", auth=writer, params={"limit": "1000"})).body["items"]

    revokes = {e["subject"] for e in entries if e["action"] == "session.revoke"}
    disable = [e for e in entries if e["action"] == "agent.disable"]
    assert revokes == {s["key_hash"] for s in sessions}
    assert len(disable) == 1 and sorted(disable[0]["detail"]["revoked"]) == sorted(revokes)


# -- the Agents page ------------------------------------------------------------------------
async def _page_post(admin: AdminPlane, path: str, login: Login, *,
                     csrf: str | None = None) -> tuple[int, str]:
    """A form POST from the Agents page, as the browser sends it (cookie + CSRF field)."""
    async with admin.client.post(path, data={"csrf": login.csrf if csrf is None else csrf},
                                 headers={"Cookie": f"studio_session={login.cookie}"},
                                 allow_redirects=False) as response:
        return response.status, await response.text()


async def test_the_agents_page_reissues_and_shows_the_new_credential_once(
        admin: AdminPlane) -> None:
    login = await admin.register()
    registered, _ = await _agent_with_sessions(admin, await admin.writer(), count=0)

    status, html = await _page_post(admin, f"/agents/{AGENT}/reissue", login)

    assert status == 200
    new = re.search(r"sst_[A-Za-z0-9_-]{43}", html)
    assert new is not None and await _works(admin, new.group(0))
    assert not await _works(admin, registered["credential"])
    async with admin.client.get("/agents", headers={
            "Cookie": f"studio_session={login.cookie}"}) as again:
        assert new.group(0) not in await again.text()


async def test_the_agents_page_disables_an_agent(admin: AdminPlane) -> None:
    login = await admin.register()
    registered, sessions = await _agent_with_sessions(admin, await admin.writer())

    status, html = await _page_post(admin, f"/agents/{AGENT}/disable", login)

    assert status == 200 and f"{len(sessions)} session(s) were revoked" in html
    assert not await _works(admin, registered["credential"])


@pytest.mark.parametrize("action", ["reissue", "disable"])
async def test_an_agents_page_form_without_the_csrf_token_changes_nothing(
        admin: AdminPlane, action: str) -> None:
    login = await admin.register()
    registered, _ = await _agent_with_sessions(admin, await admin.writer(), count=0)

    status, _ = await _page_post(admin, f"/agents/{AGENT}/{action}", login, csrf="forged")

    assert status == 403
    assert await _works(admin, registered["credential"])
