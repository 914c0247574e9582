"""Admin identities and secrets: setup links, browser logins (cookies), CSRF, API tokens.

Every secret handed out here (and by `TokenService`, `AdminService`) is 32 random bytes, shown
once and stored only as SHA-256, so a stolen database yields no usable link, cookie or token.
CSRF tokens are not stored at all: they are an HMAC of the login cookie under a key derived
from the master key (the synchronizer pattern without a table), so they die with the login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

from session_studio.store import Admin, AdminLogin, ApiToken, Scope, Workspace

from session_studio.basics import TOKEN_PREFIX, secret_hash
from session_studio.services import MAX_TOKEN_LIFETIME_S, SETUP_TTL_MS, AdminService, TokenService

from ._errors import Unauthenticated
from ._principal import ActorKind, Principal

__all__ = ["LOGIN_TTL_MS", "MAX_TOKEN_LIFETIME_S", "SETUP_TTL_MS", "AdminAccounts",
           "passkey_label", "secret_hash"]

LOGIN_TTL_MS = 12 * 3600_000


def passkey_label(credential_id: bytes) -> str:
    """A passkey as the audit trail names it: a prefix of its credential id (not a secret)."""
    return "passkey:" + credential_id.hex()[:16]


class AdminAccounts:
    """Turns the admin plane's secrets (cookies, bearer tokens) into principals and guards
    forms with CSRF tokens; what it records and issues goes through `AdminService` and
    `TokenService`."""

    def __init__(self, *, admins: AdminService, tokens: TokenService, csrf_key: bytes,
                 clock: Callable[[], int]) -> None:
        self._admins = admins
        self._tokens = tokens
        self._csrf_key = csrf_key
        self._clock = clock

    def __repr__(self) -> str:
        return "AdminAccounts(<redacted>)"

    # -- setup links -----------------------------------------------------------------------
    async def issue_setup_link(self, ws: Workspace, *, actor: str,
                               admin_name: str = "admin") -> str:
        """`AdminService.invite`: Conflict if the workspace has an admin of that name."""
        return await self._admins.invite(ws, actor=actor, admin_name=admin_name)

    # -- browser logins --------------------------------------------------------------------
    async def start_login(self, admin: Admin, *, passkey_id: bytes) -> str:
        """A new cookie for an admin who just proved a passkey (counts as a fresh step-up)."""
        cookie = secrets.token_urlsafe(32)
        now = self._clock()
        await self._admins.start_login(
            AdminLogin(token_hash=secret_hash(cookie), admin_id=admin.id,
                       workspace_id=admin.workspace_id, created_at_ms=now,
                       expires_at_ms=now + LOGIN_TTL_MS, last_assertion_at_ms=now,
                       passkey_id=passkey_id),
            actor=f"admin:{admin.name}/{passkey_label(passkey_id)}", admin_name=admin.name)
        return cookie

    async def resolve_cookie(self, cookie: str) -> Principal | None:
        if not cookie or len(cookie) > 100:
            return None
        return await self._principal_of(secret_hash(cookie))

    async def refreshed(self, principal: Principal) -> Principal:
        """The caller re-read after a change to its login (a step-up)."""
        assert principal.login_hash is not None
        again = await self._principal_of(principal.login_hash)
        if again is None:
            raise Unauthenticated("the login ended")
        return again

    async def _principal_of(self, login_hash: bytes) -> Principal | None:
        found = await self._admins.login(login_hash)
        if found is None:
            return None
        login, admin = found
        return Principal(workspace_id=login.workspace_id, kind=ActorKind.ADMIN,
                         actor_id=admin.id, actor_name=admin.name, scopes=frozenset(Scope),
                         via="" if login.passkey_id is None else passkey_label(login.passkey_id),
                         login_hash=login.token_hash,
                         last_assertion_at_ms=login.last_assertion_at_ms)

    async def stepped_up(self, principal: Principal) -> None:
        """Record a fresh passkey assertion on the caller's login."""
        assert principal.login_hash is not None
        await self._admins.refresh_assertion(principal.login_hash)

    async def logout(self, principal: Principal) -> None:
        if principal.login_hash is not None:
            await self._admins.end_login(
                principal.login_hash, workspace_id=principal.workspace_id,
                actor=principal.actor, admin_name=principal.actor_name)

    def csrf_token(self, principal: Principal) -> str:
        assert principal.login_hash is not None
        mac = hmac.new(self._csrf_key, b"csrf:" + principal.login_hash, hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def csrf_ok(self, principal: Principal, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.csrf_token(principal).encode())

    # -- admin API tokens ------------------------------------------------------------------
    async def create_api_token(self, ws: Workspace, *, name: str, scopes: frozenset[Scope],
                               expires_in_s: int | None, created_by: str | None,
                               actor: str) -> tuple[ApiToken, str]:
        return await self._tokens.create_token(ws, name=name, scopes=scopes,
                                               expires_in_s=expires_in_s,
                                               created_by=created_by, actor=actor)

    async def resolve_bearer(self, secret: str) -> Principal | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) != len(TOKEN_PREFIX) + 43:
            return None
        token = await self._tokens.resolve(secret)
        if token is None:
            return None
        return Principal(workspace_id=token.workspace_id, kind=ActorKind.TOKEN,
                         actor_id=token.id, actor_name=token.name, via=token.id,
                         scopes=frozenset(token.scopes))

    async def list_api_tokens(self, ws_id: str) -> list[ApiToken]:
        return await self._tokens.list_tokens(ws_id)

    async def revoke_api_token(self, ws_id: str, token_id: str, *, actor: str) -> ApiToken:
        return await self._tokens.revoke_token(ws_id, token_id, actor=actor)
