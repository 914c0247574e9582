"""Passkeys through the real ceremonies: a `SoftAuthenticator` answers the options the server
sends, py_webauthn verifies the answers (user verification required, challenges single-use
and short-lived, sign counters checked), and a login is a cookie."""

from __future__ import annotations

from typing import Any

from .conftest import MINUTE_MS, ORIGIN, AdminPlane, Login
from .soft_authenticator import from_b64url


async def _finish_registration(admin: AdminPlane, begun: dict[str, Any],
                               credential: dict[str, Any]) -> Any:
    return await admin.post("/auth/register/finish", {"challenge_id": begun["challenge_id"],
                                                      "credential": credential})


# -- registration through a setup link ------------------------------------------------------
async def test_a_setup_link_registers_a_passkey_and_logs_in(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    begun = await admin.begin_registration(await admin.setup_token(admin_name="alice"))

    reply = await _finish_registration(admin, begun, authenticator.create(begun["options"]))

    assert reply.status == 200
    assert reply.body["admin"] == "alice"
    assert reply.body["workspace"] == "alpha"
    assert reply.cookie
    login = Login(cookie=reply.cookie, csrf=reply.body["csrf_token"])
    assert (await admin.get("/auth/me", auth=login)).body["admin"] == "alice"


async def test_registration_options_require_user_verification_and_a_resident_key(
        admin: AdminPlane) -> None:
    begun = await admin.begin_registration(await admin.setup_token())

    options = begun["options"]
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert len(from_b64url(options["challenge"])) >= 16


async def test_the_login_cookie_is_http_only_and_same_site_strict(admin: AdminPlane) -> None:
    begun = await admin.begin_registration(await admin.setup_token())

    reply = await _finish_registration(admin, begun, admin.authenticator().create(
        begun["options"]))

    header = next(h for h in reply.headers.getall("Set-Cookie")
                  if h.startswith("studio_session="))
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes


async def test_a_setup_link_can_be_used_only_once(admin: AdminPlane) -> None:
    setup = await admin.setup_token()
    first = await admin.begin_registration(setup)
    assert (await _finish_registration(admin, first, admin.authenticator().create(
        first["options"]))).status == 200

    again = await admin.post("/auth/register/begin", {"setup_token": setup})

    assert again.status == 400
    assert again.error["code"] == "passkey_rejected"


async def test_two_ceremonies_started_from_one_link_register_only_one_admin(
        admin: AdminPlane) -> None:
    setup = await admin.setup_token()
    first = await admin.begin_registration(setup)
    second = await admin.begin_registration(setup)
    assert (await _finish_registration(admin, first, admin.authenticator().create(
        first["options"]))).status == 200

    late = await _finish_registration(admin, second, admin.authenticator().create(
        second["options"]))

    assert late.status == 400
    assert late.error["code"] == "passkey_rejected"
    admins = await admin.studio.store.list_admins(admin.workspaces["alpha"].id)
    assert len(admins) == 1


async def test_an_expired_setup_link_is_refused(admin: AdminPlane) -> None:
    setup = await admin.setup_token()
    admin.clock.advance(24 * 60 * MINUTE_MS + 1)

    reply = await admin.post("/auth/register/begin", {"setup_token": setup})

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_an_unknown_setup_link_is_refused(admin: AdminPlane) -> None:
    reply = await admin.post("/auth/register/begin", {"setup_token": "ssu_" + "A" * 43})

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_a_registration_without_user_verification_is_refused(admin: AdminPlane) -> None:
    begun = await admin.begin_registration(await admin.setup_token())

    reply = await _finish_registration(admin, begun, admin.authenticator().create(
        begun["options"], user_verified=False))

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"
    assert reply.cookie is None


async def test_a_registration_from_another_origin_is_refused(admin: AdminPlane) -> None:
    begun = await admin.begin_registration(await admin.setup_token())

    reply = await _finish_registration(admin, begun, admin.authenticator().create(
        begun["options"], origin="http://localhost.evil.example"))

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_a_registration_signed_over_another_challenge_is_refused(
        admin: AdminPlane) -> None:
    begun = await admin.begin_registration(await admin.setup_token())

    reply = await _finish_registration(admin, begun, admin.authenticator().create(
        begun["options"], challenge=b"\x00" * 64))

    assert reply.status == 400


async def test_a_refused_registration_leaves_the_setup_link_usable(admin: AdminPlane) -> None:
    """Only a successful registration redeems the link: a failed attempt (no UV) does not
    lock the person out."""
    setup = await admin.setup_token()
    begun = await admin.begin_registration(setup)
    await _finish_registration(admin, begun, admin.authenticator().create(
        begun["options"], user_verified=False))

    retry = await admin.begin_registration(setup)
    reply = await _finish_registration(admin, retry, admin.authenticator().create(
        retry["options"]))

    assert reply.status == 200


async def test_a_registration_challenge_expires_after_two_minutes(admin: AdminPlane) -> None:
    begun = await admin.begin_registration(await admin.setup_token())
    admin.clock.advance(2 * MINUTE_MS + 1)

    reply = await _finish_registration(admin, begun, admin.authenticator().create(
        begun["options"]))

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


# -- login ----------------------------------------------------------------------------------
async def test_a_registered_passkey_logs_in(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator, admin_name="alice")

    reply = await admin.login(authenticator)

    assert reply.status == 200
    assert reply.body["admin"] == "alice"
    assert reply.cookie


async def test_login_options_require_user_verification(admin: AdminPlane) -> None:
    begun = await admin.post("/auth/login/begin")

    assert begun.body["options"]["userVerification"] == "required"
    assert begun.body["options"]["rpId"] == "localhost"


async def test_a_login_without_user_verification_is_refused(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)

    reply = await admin.login(authenticator, user_verified=False)

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"
    assert reply.cookie is None


async def test_a_login_without_user_presence_is_refused(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)

    reply = await admin.login(authenticator, user_present=False)

    assert reply.status == 400


async def test_a_passkey_that_was_never_registered_cannot_log_in(admin: AdminPlane) -> None:
    registered, stranger = admin.authenticator(), admin.authenticator()
    await admin.register(registered)
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"})

    reply = await admin.login(stranger)

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_a_login_from_another_origin_is_refused(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)

    reply = await admin.login(authenticator, origin="http://127.0.0.1:8646")

    assert reply.status == 400


async def test_a_sign_counter_that_goes_backwards_is_refused(admin: AdminPlane) -> None:
    """A counter at or below the stored one (when either is above 0) hints at a cloned key."""
    authenticator = admin.authenticator(counter=True)
    await admin.register(authenticator)
    assert (await admin.login(authenticator, sign_count=5)).status == 200

    lower = await admin.login(authenticator, sign_count=3)
    same = await admin.login(authenticator, sign_count=5)
    higher = await admin.login(authenticator, sign_count=6)

    assert lower.status == 400
    assert lower.error["code"] == "passkey_rejected"
    assert same.status == 400
    assert higher.status == 200


async def test_a_synced_passkey_reporting_counter_zero_logs_in_every_time(
        admin: AdminPlane) -> None:
    authenticator = admin.authenticator(counter=False)
    await admin.register(authenticator)

    replies = [await admin.login(authenticator) for _ in range(3)]

    assert [r.status for r in replies] == [200, 200, 200]


async def test_a_login_challenge_can_be_used_only_once(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)
    begun = (await admin.post("/auth/login/begin")).body
    first = await admin.post("/auth/login/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"])})

    replay = await admin.post("/auth/login/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"])})

    assert first.status == 200
    assert replay.status == 400
    assert replay.error["code"] == "passkey_rejected"


async def test_a_failed_login_consumes_its_challenge(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)
    begun = (await admin.post("/auth/login/begin")).body
    await admin.post("/auth/login/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"], user_verified=False)})

    retry = await admin.post("/auth/login/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"])})

    assert retry.status == 400


async def test_a_login_challenge_expires_after_two_minutes(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)
    begun = (await admin.post("/auth/login/begin")).body
    admin.clock.advance(2 * MINUTE_MS + 1)

    reply = await admin.post("/auth/login/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"])})

    assert reply.status == 400


async def test_a_challenge_issued_for_registration_cannot_finish_a_login(
        admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)
    registration = await admin.begin_registration(await admin.setup_token(admin_name="bob"))

    reply = await admin.post("/auth/login/finish", {
        "challenge_id": registration["challenge_id"],
        "credential": authenticator.get({"challenge": registration["options"]["challenge"],
                                         "rpId": "localhost"})})

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_a_login_challenge_cannot_finish_a_step_up(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)
    begun = (await admin.post("/auth/login/begin")).body

    reply = await admin.post("/auth/step-up/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"])}, auth=login)

    assert reply.status == 400
    assert reply.error["code"] == "passkey_rejected"


async def test_an_assertion_over_another_challenge_is_refused(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    await admin.register(authenticator)
    begun = (await admin.post("/auth/login/begin")).body

    reply = await admin.post("/auth/login/finish", {
        "challenge_id": begun["challenge_id"],
        "credential": authenticator.get(begun["options"], challenge=b"\x01" * 64)})

    assert reply.status == 400


# -- logout ---------------------------------------------------------------------------------
async def test_logout_ends_the_login(admin: AdminPlane) -> None:
    login = await admin.register()

    reply = await admin.post("/auth/logout", auth=login)

    assert reply.status == 200
    assert reply.cookie == ""  # the cookie is deleted in the browser too
    after = await admin.get("/auth/me", auth=login)
    assert after.status == 401


async def test_logout_ends_only_that_login(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    first = await admin.register(authenticator)
    second = await admin.logged_in(authenticator)

    await admin.post("/auth/logout", auth=first)

    assert (await admin.get("/auth/me", auth=second)).status == 200


async def test_logout_needs_the_csrf_token(admin: AdminPlane) -> None:
    login = await admin.register()

    reply = await admin.post("/auth/logout", auth=login, csrf=None)

    assert reply.status == 403
    assert (await admin.get("/auth/me", auth=login)).status == 200


# -- more passkeys and more admins ----------------------------------------------------------
async def test_a_logged_in_admin_adds_a_second_passkey_that_logs_in(admin: AdminPlane) -> None:
    first, second = admin.authenticator(), admin.authenticator()
    login = await admin.register(first, admin_name="alice")
    begun = await admin.post("/auth/passkeys/begin", auth=login)

    added = await admin.post("/auth/passkeys/finish", {
        "challenge_id": begun.body["challenge_id"],
        "credential": second.create(begun.body["options"])}, auth=login)

    assert added.status == 200
    reply = await admin.login(second)
    assert reply.status == 200
    assert reply.body["admin"] == "alice"


async def test_adding_a_passkey_excludes_the_ones_already_registered(admin: AdminPlane) -> None:
    authenticator = admin.authenticator()
    login = await admin.register(authenticator)

    begun = await admin.post("/auth/passkeys/begin", auth=login)

    excluded = [from_b64url(c["id"]) for c in begun.body["options"]["excludeCredentials"]]
    assert excluded == [authenticator.credentials[0].credential_id]


async def test_an_invited_admin_registers_with_the_invite_link(admin: AdminPlane) -> None:
    login = await admin.register(admin_name="alice")
    invite = await admin.post("/auth/invites", {"name": "bob"}, auth=login)
    assert invite.status == 200
    link = invite.body["setup_link"]
    assert link.startswith(f"{ORIGIN}/setup#ssu_")
    bob = admin.authenticator()
    begun = await admin.begin_registration(link.partition("#")[2])

    reply = await _finish_registration(admin, begun, bob.create(begun["options"]))

    assert reply.status == 200
    assert reply.body["admin"] == "bob"
    assert reply.body["workspace"] == "alpha"


async def test_inviting_an_existing_admin_name_is_a_conflict(admin: AdminPlane) -> None:
    login = await admin.register(admin_name="alice")

    reply = await admin.post("/auth/invites", {"name": "alice"}, auth=login)

    assert reply.status == 409
