"""Step-up: creating an app session or an admin API token (and adding a passkey, inviting an
admin) needs a passkey assertion from the last 5 minutes. A login counts as one; after that,
/auth/step-up/begin + finish renews it. Tokens never qualify."""

from __future__ import annotations

from datetime import UTC, datetime

from .conftest import MINUTE_MS, AdminPlane, session_body
from .soft_authenticator import from_b64url

STALE_MS = 5 * MINUTE_MS + 1_000


def _app_session() -> dict[str, object]:
    return session_body(type="app", label="checkout")


async def test_an_app_session_can_be_created_right_after_login(admin: AdminPlane) -> None:
    login = await admin.register()

    reply = await admin.post("/sessions", _app_session(), auth=login)

    assert reply.status == 201
    assert reply.body["type"] == "app"
    assert reply.body["credential"].startswith("sst_")


async def test_an_app_session_needs_a_step_up_once_the_login_is_older_than_five_minutes(
        admin: AdminPlane) -> None:
    login = await admin.register()
    admin.clock.advance(STALE_MS)

    reply = await admin.post("/sessions", _app_session(), auth=login)

    assert reply.status == 403
    assert reply.error["code"] == "step_up_required"
    assert (await admin.get("/sessions", auth=login)).body["items"] == []


async def test_the_step_up_window_is_five_minutes(admin: AdminPlane) -> None:
    login = await admin.register()
    admin.clock.advance(5 * MINUTE_MS - 1_000)

    reply = await admin.post("/sessions", _app_session(), auth=login)

    assert reply.status == 201


async def test_after_a_step_up_an_app_session_can_be_created(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    admin.clock.advance(STALE_MS)

    stepped = await admin.step_up(login, authenticator)
    reply = await admin.post("/sessions", _app_session(), auth=login)

    assert stepped.status == 200
    assert reply.status == 201


async def test_a_step_up_reports_until_when_it_is_valid(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    admin.clock.advance(STALE_MS)

    stepped = await admin.step_up(login, authenticator)

    until = datetime.fromisoformat(stepped.body["step_up_valid_until"].replace("Z", "+00:00"))
    expected = datetime.fromtimestamp((admin.clock() + 5 * MINUTE_MS) / 1000, tz=UTC)
    assert abs((until - expected).total_seconds()) <= 2


async def test_a_step_up_without_user_verification_is_refused(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    admin.clock.advance(STALE_MS)
    begun = await admin.post("/auth/step-up/begin", auth=login)

    reply = await admin.post("/auth/step-up/finish", {
        "challenge_id": begun.body["challenge_id"],
        "credential": authenticator.get(begun.body["options"], user_verified=False)},
        auth=login)

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"
    still = await admin.post("/sessions", _app_session(), auth=login)
    assert still.error["code"] == "step_up_required"


async def test_a_step_up_offers_only_the_admins_own_passkeys(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    await admin.register(admin_name="bob")

    begun = await admin.post("/auth/step-up/begin", auth=login)

    allowed = begun.body["options"]["allowCredentials"]
    assert [from_b64url(c["id"]) for c in allowed] == [
        authenticator.credentials[0].credential_id]


async def test_another_admins_passkey_cannot_step_up_my_login(admin: AdminPlane) -> None:
    mine, theirs = admin.authenticator(), admin.authenticator()
    login = await admin.register(mine, admin_name="alice")
    await admin.register(theirs, admin_name="bob")
    admin.clock.advance(STALE_MS)
    begun = await admin.post("/auth/step-up/begin", auth=login)

    reply = await admin.post("/auth/step-up/finish", {
        "challenge_id": begun.body["challenge_id"],
        "credential": theirs.get({**begun.body["options"], "allowCredentials": []})},
        auth=login)

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_a_step_up_challenge_of_another_login_cannot_be_used(admin: AdminPlane) -> None:
    """A challenge names the admin it was issued to: bob's challenge does not step up alice."""
    alice_key, bob_key = admin.authenticator(), admin.authenticator()
    alice = await admin.register(alice_key, admin_name="alice")
    bob = await admin.register(bob_key, admin_name="bob")
    admin.clock.advance(STALE_MS)
    bobs = await admin.post("/auth/step-up/begin", auth=bob)

    reply = await admin.post("/auth/step-up/finish", {
        "challenge_id": bobs.body["challenge_id"],
        "credential": alice_key.get({**bobs.body["options"], "allowCredentials": []})},
        auth=alice)

    assert reply.status == 400


async def test_a_token_can_never_create_an_app_session(admin: AdminPlane) -> None:
    token = await admin.token("sessions:write", "sessions:read", "agents:write")

    reply = await admin.post("/sessions", _app_session(), auth=token)

    assert reply.status == 403
    assert reply.error["code"] == "passkey_required"


async def test_a_token_creates_agent_sessions_without_step_up(admin: AdminPlane) -> None:
    token = await admin.writer()
    await admin.register_agent(token, "bot")

    reply = await admin.post("/sessions", session_body(agent="bot"), auth=token)

    assert reply.status == 201
    assert reply.body["type"] == "agent"


async def test_a_stale_login_still_creates_agent_sessions(admin: AdminPlane) -> None:
    login = await admin.register()
    await admin.register_agent(login, "bot")
    admin.clock.advance(STALE_MS)

    reply = await admin.post("/sessions", session_body(agent="bot"), auth=login)

    assert reply.status == 201


async def test_creating_a_token_needs_a_step_up(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    admin.clock.advance(STALE_MS)
    body = {"name": "rotation-job", "scopes": ["sessions:write"]}

    refused = await admin.post("/tokens", body, auth=login)
    await admin.step_up(login, authenticator)
    created = await admin.post("/tokens", body, auth=login)

    assert refused.status == 403
    assert refused.error["code"] == "step_up_required"
    assert created.status == 201


async def test_adding_a_passkey_needs_a_step_up(admin: AdminPlane) -> None:
    login = await admin.register()
    admin.clock.advance(STALE_MS)

    reply = await admin.post("/auth/passkeys/begin", auth=login)

    assert reply.status == 403
    assert reply.error["code"] == "step_up_required"


async def test_inviting_an_admin_needs_a_step_up(admin: AdminPlane) -> None:
    login = await admin.register()
    admin.clock.advance(STALE_MS)

    reply = await admin.post("/auth/invites", {"name": "bob"}, auth=login)

    assert reply.status == 403
    assert reply.error["code"] == "step_up_required"


# -- an app session's credential, shown again or replaced ---------------------------------
async def test_a_token_cannot_export_or_rotate_an_app_session(admin: AdminPlane) -> None:
    seeded = await admin.seed_session(type="app")
    writer = await admin.writer()

    exported = await admin.get(f"/sessions/{seeded['key_hash']}/export", auth=writer)
    rotated = await admin.post(f"/sessions/{seeded['key_hash']}/rotate", auth=writer)

    assert (exported.status, exported.error["code"]) == (403, "passkey_required")
    assert (rotated.status, rotated.error["code"]) == (403, "passkey_required")
    shown = await admin.get(f"/sessions/{seeded['key_hash']}", auth=writer)
    assert shown.body["status"] == "active"


async def test_exporting_an_app_session_needs_a_fresh_step_up(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    seeded = await admin.seed_session(type="app")
    admin.clock.advance(STALE_MS)

    stale = await admin.get(f"/sessions/{seeded['key_hash']}/export", auth=login)
    stepped = await admin.step_up(login, authenticator)
    fresh = await admin.get(f"/sessions/{seeded['key_hash']}/export", auth=login)

    assert (stale.status, stale.error["code"]) == (403, "step_up_required")
    assert stepped.status == 200
    assert fresh.status == 200
    assert fresh.body["credential"] == seeded["credential"]


async def test_rotating_an_app_session_needs_a_fresh_step_up(admin: AdminPlane) -> None:
    login = await admin.register()
    seeded = await admin.seed_session(type="app")
    admin.clock.advance(STALE_MS)

    reply = await admin.post(f"/sessions/{seeded['key_hash']}/rotate", auth=login)

    assert (reply.status, reply.error["code"]) == (403, "step_up_required")
    assert (await admin.get(f"/sessions/{seeded['key_hash']}", auth=login)).body[
        "status"] == "active"
