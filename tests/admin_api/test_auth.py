"""Who may call what: credentials (401), token scopes and cookie-only operations (403), CSRF.

Table-driven over the operation table, so every endpoint is covered, including ones added
later.
"""

from __future__ import annotations

import secrets

import pytest
from session_studio.admin_ui._operations import Operation
from session_studio.store import Scope

from .conftest import MINUTE_MS, AdminPlane, Bearer, Login, session_body
from .operations import COOKIE_ONLY, PROTECTED, PUBLIC, op_id, path_of

SCOPES = [s.value for s in Scope]


# -- credentials ----------------------------------------------------------------------------
@pytest.mark.parametrize("op", PROTECTED, ids=op_id)
async def test_every_protected_operation_refuses_a_request_without_credentials(
        admin: AdminPlane, op: Operation) -> None:
    reply = await admin.call(op.method, path_of(op))

    assert reply.status == 401
    assert reply.error["code"] == "unauthenticated"


def test_only_the_passkey_ceremonies_that_start_a_login_are_public() -> None:
    assert {op.operation_id for op in PUBLIC} == {
        "beginRegistration", "finishRegistration", "beginLogin", "finishLogin"}


@pytest.mark.parametrize("header", [
    "Bearer nope",
    "Bearer ssa_short",
    "Bearer ",
    "Bearer sst_" + "A" * 43,  # an RPC credential is not an admin token
    "Basic YWRtaW46YWRtaW4=",
    "ssa_" + "A" * 43,  # no scheme
], ids=["garbage", "short", "empty", "rpc-credential", "basic", "no-scheme"])
async def test_a_malformed_authorization_header_is_unauthenticated(
        admin: AdminPlane, header: str) -> None:
    reply = await admin.call("GET", "/sessions", headers={"Authorization": header})

    assert reply.status == 401
    assert reply.error["code"] == "unauthenticated"


async def test_an_unknown_token_of_the_right_shape_is_unauthenticated(admin: AdminPlane) -> None:
    unknown = Bearer("ssa_" + secrets.token_urlsafe(32))

    assert (await admin.get("/sessions", auth=unknown)).status == 401


async def test_a_revoked_token_is_unauthenticated(admin: AdminPlane) -> None:
    token = await admin.token("sessions:read")
    assert (await admin.get("/sessions", auth=token)).status == 200
    listed = await admin.deps.accounts.list_api_tokens(admin.workspaces["alpha"].id)
    await admin.deps.accounts.revoke_api_token(admin.workspaces["alpha"].id, listed[0].id,
                                               actor="cli:test")

    reply = await admin.get("/sessions", auth=token)

    assert reply.status == 401
    assert reply.error["code"] == "unauthenticated"


async def test_a_token_works_until_it_expires_and_is_unauthenticated_after(
        admin: AdminPlane) -> None:
    token = await admin.token("sessions:read", expires_in_s=60)
    admin.clock.advance(59_000)
    assert (await admin.get("/sessions", auth=token)).status == 200

    admin.clock.advance(1_000)

    assert (await admin.get("/sessions", auth=token)).status == 401


async def test_an_unknown_login_cookie_is_unauthenticated(admin: AdminPlane) -> None:
    stranger = Login(cookie=secrets.token_urlsafe(32), csrf="x")

    assert (await admin.get("/auth/me", auth=stranger)).status == 401


async def test_a_login_cookie_expires_after_twelve_hours(admin: AdminPlane) -> None:
    login = await admin.register()
    admin.clock.advance(12 * 60 * MINUTE_MS)

    assert (await admin.get("/auth/me", auth=login)).status == 401


# -- token scopes ---------------------------------------------------------------------------
def _allowed(op: Operation, scope: str) -> bool:
    """CONTRACT.md: each operation names its scope, and `sessions:write` may also read."""
    assert op.scope is not None
    return op.scope.value == scope or (op.scope is Scope.SESSIONS_READ
                                       and scope == "sessions:write")


TOKEN_OPERATIONS = [op for op in PROTECTED if not op.cookie_only]
# A token may reach these with the right scope, but they always answer it 403
# passkey_required: only a person with a fresh passkey assertion may do them.
PASSKEY_ONLY = {"approveApproval"}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("op", TOKEN_OPERATIONS, ids=op_id)
async def test_a_token_may_call_an_operation_only_with_its_scope(
        admin: AdminPlane, op: Operation, scope: str) -> None:
    token = await admin.token(scope)

    reply = await admin.call(op.method, path_of(op), auth=token,
                             json={} if op.body is not None else None)

    if _allowed(op, scope) and op.operation_id in PASSKEY_ONLY:
        assert reply.status == 403
        assert reply.error["code"] == "passkey_required"
    elif _allowed(op, scope):
        assert reply.status != 403, reply.body
    else:
        assert reply.status == 403
        assert reply.error["code"] == "insufficient_scope"


def test_the_scopes_are_the_four_of_the_contract() -> None:
    assert set(SCOPES) == {"sessions:read", "sessions:write", "agents:write", "approvals:write"}


async def test_a_read_token_lists_and_reads_sessions(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    listed = await admin.get("/sessions", auth=reader)
    shown = await admin.get(f"/sessions/{seeded['key_hash']}", auth=reader)

    assert [s["key_hash"] for s in listed.body["items"]] == [seeded["key_hash"]]
    assert shown.status == 200


@pytest.mark.parametrize("action", ["revoke", "rotate"])
async def test_a_read_token_cannot_change_a_session(admin: AdminPlane, action: str) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.post(f"/sessions/{seeded['key_hash']}/{action}", auth=reader)

    assert reply.status == 403
    assert reply.error["code"] == "insufficient_scope"
    shown = await admin.get(f"/sessions/{seeded['key_hash']}", auth=reader)
    assert shown.body["status"] == "active"


async def test_a_read_token_cannot_create_a_session(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await admin.register_agent(writer, "bot")
    reader = await admin.token("sessions:read")

    reply = await admin.post("/sessions", session_body(agent="bot"), auth=reader)

    assert reply.status == 403
    assert reply.error["code"] == "insufficient_scope"
    assert (await admin.get("/sessions", auth=reader)).body["items"] == []


async def test_a_read_token_cannot_export_a_credential(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/{seeded['key_hash']}/export", auth=reader)

    assert reply.status == 403
    assert "credential" not in str(reply.body)


async def test_a_write_token_may_also_read(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    writer = await admin.token("sessions:write")

    for path in ("", "/usage", "/events", "/snippet"):
        assert (await admin.get(f"/sessions/{seeded['key_hash']}{path}",
                                auth=writer)).status == 200
    assert (await admin.get("/agents", auth=writer)).status == 200


async def test_a_write_token_creates_agent_sessions_but_cannot_register_agents(
        admin: AdminPlane) -> None:
    agents = await admin.token("agents:write")
    writer = await admin.token("sessions:write")

    refused = await admin.post("/agents", {"name": "bot"}, auth=writer)
    await admin.register_agent(agents, "bot")
    created = await admin.post("/sessions", session_body(agent="bot"), auth=writer)

    assert refused.status == 403
    assert refused.error["code"] == "insufficient_scope"
    assert created.status == 201


async def test_an_agents_token_registers_agents_but_cannot_read_sessions(
        admin: AdminPlane) -> None:
    agents = await admin.token("agents:write")

    registered = await admin.post("/agents", {"name": "bot"}, auth=agents)
    listing = await admin.get("/sessions", auth=agents)

    assert registered.status == 201
    assert listing.status == 403
    assert listing.error["code"] == "insufficient_scope"


@pytest.mark.parametrize("op", COOKIE_ONLY, ids=op_id)
async def test_a_token_with_every_scope_cannot_use_a_passkey_only_operation(
        admin: AdminPlane, op: Operation) -> None:
    token = await admin.token(*SCOPES)

    reply = await admin.call(op.method, path_of(op), auth=token,
                             json={} if op.body is not None else None)

    assert reply.status == 403
    assert reply.error["code"] == "passkey_required"


def test_tokens_me_step_up_passkeys_invites_and_logout_are_passkey_only() -> None:
    assert {op.operation_id for op in COOKIE_ONLY} == {
        "listTokens", "createToken", "revokeToken", "me", "beginStepUp", "finishStepUp",
        "beginAddPasskey", "finishAddPasskey", "inviteAdmin", "logout"}


# -- CSRF -----------------------------------------------------------------------------------
MUTATIONS = [op for op in PROTECTED if op.is_mutation]


@pytest.mark.parametrize("op", MUTATIONS, ids=op_id)
async def test_every_cookie_mutation_without_the_csrf_header_is_refused(
        admin: AdminPlane, op: Operation) -> None:
    login = await admin.register()

    reply = await admin.call(op.method, path_of(op), auth=login, csrf=None,
                             json={} if op.body is not None else None)

    assert reply.status == 403
    assert reply.error["code"] == "csrf_failed"


async def test_a_refused_cookie_mutation_changes_nothing(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    login = await admin.register()

    reply = await admin.post("/sessions/bulk-revoke", {}, auth=login, csrf=None)

    assert reply.status == 403
    shown = await admin.get(f"/sessions/{seeded['key_hash']}", auth=login)
    assert shown.body["status"] == "active"


async def test_a_cookie_mutation_with_a_wrong_csrf_token_is_refused(admin: AdminPlane) -> None:
    login = await admin.register()

    reply = await admin.post("/sessions/bulk-revoke", {"dry_run": True}, auth=login,
                             csrf=secrets.token_urlsafe(32))

    assert reply.status == 403
    assert reply.error["code"] == "csrf_failed"


async def test_the_csrf_token_of_another_login_is_refused(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    first = await admin.register(authenticator)
    second = await admin.logged_in(authenticator)
    assert first.csrf != second.csrf

    reply = await admin.post("/sessions/bulk-revoke", {"dry_run": True}, auth=second,
                             csrf=first.csrf)

    assert reply.status == 403
    assert reply.error["code"] == "csrf_failed"


async def test_a_cookie_mutation_with_the_csrf_token_from_auth_me_succeeds(
        admin: AdminPlane) -> None:
    login = await admin.register()
    me = await admin.get("/auth/me", auth=Login(cookie=login.cookie, csrf=""))

    reply = await admin.post("/sessions/bulk-revoke", {"dry_run": True}, auth=login,
                             csrf=me.body["csrf_token"])

    assert reply.status == 200
    assert me.body["csrf_token"] == login.csrf


async def test_cookie_reads_need_no_csrf_token(admin: AdminPlane) -> None:
    login = await admin.register()

    reply = await admin.call("GET", "/sessions", auth=login, csrf=None)

    assert reply.status == 200


async def test_bearer_mutations_need_no_csrf_token(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    writer = await admin.writer()

    reply = await admin.post(f"/sessions/{seeded['key_hash']}/revoke", auth=writer)

    assert reply.status == 200
    assert reply.body["status"] == "revoked"
