"""Admins: invites, passkeys, logins; the one door to them for the CLI and the admin plane.

Invites are issued here with their audit row in the same transaction. The WebAuthn ceremonies
themselves (py_webauthn) are the admin plane's (`admin_ui._passkeys`), and so is turning a
cookie into a principal (`admin_ui._accounts`): they keep and read what they need through this
service, never through the store.
"""

from __future__ import annotations

from collections.abc import Callable

from session_studio.basics import SETUP_PREFIX, new_secret, secret_hash
from session_studio.store import (
    Admin,
    AdminLogin,
    AuditEvent,
    Challenge,
    ChallengePurpose,
    Passkey,
    SetupLink,
    Store,
    Workspace,
)

SETUP_TTL_MS = 24 * 3600_000


class AdminService:
    """Admins of a workspace, their invites, passkeys and browser logins."""

    def __init__(self, *, store: Store, origin: str, clock: Callable[[], int]) -> None:
        self._store = store
        self._origin = origin.rstrip("/")
        self._clock = clock

    def __repr__(self) -> str:
        return "AdminService(<redacted>)"

    # -- admins ----------------------------------------------------------------------------
    async def invite(self, ws: Workspace, *, actor: str, admin_name: str = "admin") -> str:
        """A one-time URL that lets one person register a passkey as admin `admin_name` of `ws`;
        Conflict if the workspace already has an admin of that name.

        The secret rides in the fragment: browsers never send it to the server in the request
        line, so it reaches no access log or proxy; the page's script posts it once.
        """
        token = new_secret(SETUP_PREFIX)
        now = self._clock()
        await self._store.invite_admin(
            SetupLink(token_hash=secret_hash(token), workspace_id=ws.id, admin_name=admin_name,
                      created_at_ms=now, expires_at_ms=now + SETUP_TTL_MS),
            now_ms=now,
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="admin.invite",
                             subject=admin_name))
        return f"{self._origin}/setup#{token}"

    async def list_admins(self, ws: Workspace) -> list[Admin]:
        return await self._store.list_admins(ws.id)

    async def get_admin(self, admin_id: str) -> Admin:
        return await self._store.get_admin(admin_id)

    async def passkeys_of(self, admin_id: str) -> list[Passkey]:
        return await self._store.passkeys_of(admin_id)

    async def setup_link(self, token_hash: bytes) -> SetupLink | None:
        """The link if it exists, is unused and has not expired."""
        return await self._store.setup_link(token_hash, now_ms=self._clock())

    async def register(self, admin: Admin, passkey: Passkey, *, setup_hash: bytes,
                       actor: str) -> None:
        """Redeem the setup link, create the admin and its first passkey, audited, atomically;
        Conflict if the link was used meanwhile or the name is taken (UNIQUE in the table)."""
        await self._store.register_admin(
            admin, passkey, setup_hash=setup_hash, now_ms=self._clock(),
            audit=AuditEvent(workspace_id=admin.workspace_id, actor=actor,
                             action="admin.register", subject=admin.name))

    async def add_passkey(self, admin: Admin, passkey: Passkey, *, label: str) -> None:
        await self._store.add_passkey(passkey, audit=AuditEvent(
            workspace_id=admin.workspace_id, actor=f"admin:{admin.name}",
            action="passkey.add", subject=label))

    async def get_passkey(self, credential_id: bytes) -> Passkey | None:
        return await self._store.get_passkey(credential_id)

    async def record_assertion(self, credential_id: bytes, *, sign_count: int) -> None:
        """The authenticator's new sign count, so a cloned authenticator is noticed."""
        await self._store.record_assertion(credential_id, sign_count=sign_count,
                                           now_ms=self._clock())

    # -- WebAuthn challenges (single use) --------------------------------------------------
    async def save_challenge(self, challenge: Challenge) -> None:
        await self._store.save_challenge(challenge, now_ms=self._clock())

    async def take_challenge(self, challenge_id: str,
                             purpose: ChallengePurpose) -> Challenge | None:
        """Consume a challenge; None if unknown, of another purpose or expired."""
        return await self._store.take_challenge(challenge_id, purpose, now_ms=self._clock())

    # -- browser logins --------------------------------------------------------------------
    async def start_login(self, login: AdminLogin, *, actor: str, admin_name: str) -> None:
        await self._store.create_login(login, audit=AuditEvent(
            workspace_id=login.workspace_id, actor=actor, action="admin.login",
            subject=admin_name))

    async def login(self, token_hash: bytes) -> tuple[AdminLogin, Admin] | None:
        """The live login of a cookie's hash, with its admin."""
        login = await self._store.get_login(token_hash, now_ms=self._clock())
        if login is None:
            return None
        return login, await self._store.get_admin(login.admin_id)

    async def refresh_assertion(self, token_hash: bytes) -> None:
        await self._store.refresh_assertion(token_hash, now_ms=self._clock())

    async def end_login(self, token_hash: bytes, *, workspace_id: str, actor: str,
                        admin_name: str) -> None:
        await self._store.end_login(token_hash, now_ms=self._clock(), audit=AuditEvent(
            workspace_id=workspace_id, actor=actor, action="admin.logout", subject=admin_name))
