"""The WebAuthn ceremonies (py_webauthn): register through a setup link, add a passkey, log in,
step up.

What the library leaves to us (CONVENTIONS.md, "py_webauthn"): challenges are stored
server-side and consumed on first use (whatever the outcome), they expire after two minutes,
user verification is *required* on both verify calls (the library defaults to False), and the
new sign count is persisted (py_webauthn refuses a count that does not grow unless both are 0,
which synced passkeys report).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session_studio.store import Admin, Challenge, ChallengePurpose, Conflict, Passkey, new_id
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from session_studio.services import AdminService

from ._accounts import passkey_label, secret_hash
from ._errors import ApiError

CHALLENGE_TTL_MS = 2 * 60_000
RP_NAME = "Session Studio"


class PasskeyRejected(ApiError):
    """The ceremony failed: stale or reused challenge, bad signature, no user verification."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "passkey_rejected", message)


@dataclass(frozen=True, slots=True)
class Begun:
    """What the browser needs: the options for `navigator.credentials.*` and our handle."""

    challenge_id: str
    options: dict[str, Any]


class PasskeyCeremonies:
    def __init__(self, *, admins: AdminService, rp_id: str, origin: str,
                 clock: Callable[[], int]) -> None:
        self._admins = admins
        self._rp_id = rp_id
        self._origin = origin.rstrip("/")
        self._clock = clock

    # -- registration ----------------------------------------------------------------------
    async def begin_registration(self, setup_token: str) -> Begun:
        link = await self._admins.setup_link(secret_hash(setup_token))
        if link is None:
            raise PasskeyRejected("this setup link is unknown, already used or expired: ask "
                                  "an admin (or `session-studio admins invite`) for a new one")
        user_handle = secrets.token_bytes(32)
        options = generate_registration_options(
            rp_id=self._rp_id, rp_name=RP_NAME, user_name=link.admin_name,
            user_id=user_handle, authenticator_selection=self._selection())
        return await self._save(Challenge(
            id=new_id(), purpose=ChallengePurpose.REGISTER, challenge=options.challenge,
            expires_at_ms=self._clock() + CHALLENGE_TTL_MS, workspace_id=link.workspace_id,
            setup_hash=link.token_hash, admin_name=link.admin_name,
            user_handle=user_handle), options_to_json_dict(options))

    async def finish_registration(self, challenge_id: str, credential: dict[str, Any]) -> Admin:
        challenge = await self._take(challenge_id, ChallengePurpose.REGISTER)
        assert challenge.workspace_id and challenge.setup_hash and challenge.user_handle
        verified = self._verify_registration(challenge, credential)
        now = self._clock()
        admin = Admin(id=new_id(), workspace_id=challenge.workspace_id,
                      name=challenge.admin_name or "admin", user_handle=challenge.user_handle,
                      created_at_ms=now)
        try:
            passkey = self._passkey(admin.id, verified)
            await self._admins.register(
                admin, passkey, setup_hash=challenge.setup_hash,
                actor=f"admin:{admin.name}/{passkey_label(passkey.credential_id)}")
        except Conflict as exc:
            raise PasskeyRejected(str(exc)) from exc
        return admin

    async def begin_add_passkey(self, admin: Admin) -> Begun:
        existing = await self._admins.passkeys_of(admin.id)
        options = generate_registration_options(
            rp_id=self._rp_id, rp_name=RP_NAME, user_name=admin.name,
            user_id=admin.user_handle, authenticator_selection=self._selection(),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id)
                                 for p in existing])
        return await self._save(Challenge(
            id=new_id(), purpose=ChallengePurpose.ADD_PASSKEY, challenge=options.challenge,
            expires_at_ms=self._clock() + CHALLENGE_TTL_MS, workspace_id=admin.workspace_id,
            admin_id=admin.id), options_to_json_dict(options))

    async def finish_add_passkey(self, admin: Admin, challenge_id: str,
                                 credential: dict[str, Any]) -> None:
        challenge = await self._take(challenge_id, ChallengePurpose.ADD_PASSKEY)
        if challenge.admin_id != admin.id:
            raise PasskeyRejected("this challenge was issued to another admin")
        verified = self._verify_registration(challenge, credential)
        try:
            passkey = self._passkey(admin.id, verified)
            await self._admins.add_passkey(admin, passkey,
                                           label=passkey_label(passkey.credential_id))
        except Conflict as exc:
            raise PasskeyRejected(str(exc)) from exc

    # -- assertions (login and step-up) ----------------------------------------------------
    async def begin_login(self) -> Begun:
        """Discoverable-credential login: the browser offers the passkeys it holds for the RP."""
        options = generate_authentication_options(
            rp_id=self._rp_id, user_verification=UserVerificationRequirement.REQUIRED)
        return await self._save(Challenge(
            id=new_id(), purpose=ChallengePurpose.LOGIN, challenge=options.challenge,
            expires_at_ms=self._clock() + CHALLENGE_TTL_MS), options_to_json_dict(options))

    async def finish_login(self, challenge_id: str,
                           credential: dict[str, Any]) -> tuple[Admin, bytes]:
        challenge = await self._take(challenge_id, ChallengePurpose.LOGIN)
        return await self._verify_assertion(challenge, credential, admin_id=None)

    async def begin_step_up(self, admin: Admin) -> Begun:
        passkeys = await self._admins.passkeys_of(admin.id)
        options = generate_authentication_options(
            rp_id=self._rp_id, user_verification=UserVerificationRequirement.REQUIRED,
            allow_credentials=[PublicKeyCredentialDescriptor(id=p.credential_id)
                               for p in passkeys])
        return await self._save(Challenge(
            id=new_id(), purpose=ChallengePurpose.STEP_UP, challenge=options.challenge,
            expires_at_ms=self._clock() + CHALLENGE_TTL_MS, workspace_id=admin.workspace_id,
            admin_id=admin.id), options_to_json_dict(options))

    async def finish_step_up(self, admin: Admin, challenge_id: str,
                             credential: dict[str, Any]) -> None:
        challenge = await self._take(challenge_id, ChallengePurpose.STEP_UP)
        if challenge.admin_id != admin.id:
            raise PasskeyRejected("this challenge was issued to another admin")
        await self._verify_assertion(challenge, credential, admin_id=admin.id)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _selection() -> AuthenticatorSelectionCriteria:
        return AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED)

    async def _save(self, challenge: Challenge, options: dict[str, Any]) -> Begun:
        await self._admins.save_challenge(challenge)
        return Begun(challenge_id=challenge.id, options=options)

    async def _take(self, challenge_id: str, purpose: ChallengePurpose) -> Challenge:
        challenge = await self._admins.take_challenge(challenge_id, purpose)
        if challenge is None:
            raise PasskeyRejected("the passkey challenge is unknown, used or expired: start "
                                  "again")
        return challenge

    def _verify_registration(self, challenge: Challenge, credential: dict[str, Any]) -> Any:
        try:
            return verify_registration_response(
                credential=credential, expected_challenge=challenge.challenge,
                expected_rp_id=self._rp_id, expected_origin=self._origin,
                require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise PasskeyRejected(f"registration refused: {exc}") from exc

    def _passkey(self, admin_id: str, verified: Any) -> Passkey:
        return Passkey(credential_id=verified.credential_id, admin_id=admin_id,
                       public_key=verified.credential_public_key,
                       sign_count=verified.sign_count, backed_up=verified.credential_backed_up,
                       created_at_ms=self._clock())

    async def _verify_assertion(self, challenge: Challenge, credential: dict[str, Any], *,
                                admin_id: str | None) -> tuple[Admin, bytes]:
        try:
            credential_id = base64url_to_bytes(str(credential.get("rawId") or
                                                   credential.get("id") or ""))
        except (ValueError, TypeError) as exc:
            raise PasskeyRejected("the credential id is not base64url") from exc
        passkey = await self._admins.get_passkey(credential_id)
        if passkey is None or (admin_id is not None and passkey.admin_id != admin_id):
            raise PasskeyRejected("this passkey is not registered here")
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=challenge.challenge,
                expected_rp_id=self._rp_id, expected_origin=self._origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise PasskeyRejected(f"login refused: {exc}") from exc
        await self._admins.record_assertion(credential_id, sign_count=verified.new_sign_count)
        return await self._admins.get_admin(passkey.admin_id), credential_id
