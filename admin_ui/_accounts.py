"""Admin identities and secrets: setup links, browser logins (cookies), CSRF, API tokens.

Every secret handed out here is 32 random bytes, shown once and stored only as SHA-256, so a
stolen database yields no usable link, cookie or token. CSRF tokens are not stored at all:
they are an HMAC of the login cookie under a key derived from the master key (the synchronizer
pattern without a table), so they die with the login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

from session_studio.store import (
    Admin,
    AdminLogin,
    AdminPlaneStore,
    ApiToken,
    AuditEvent,
    Scope,
    SetupLink,
    Workspace,
    new_id,
)

from ._errors import Unauthenticated
from ._principal import ActorKind, Principal

SETUP_PREFIX = "ssu_"
TOKEN_PREFIX = "ssa_"
SETUP_TTL_MS = 24 * 3600_000
LOGIN_TTL_MS = 12 * 3600_000
MAX_TOKEN_LIFETIME_S = 366 * 24 * 3600


def _secret(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def passkey_label(credential_id: bytes) -> str:
    """A passkey as the audit trail names it: a prefix of its credential id (not a secret)."""
    return "passkey:" + credential_id.hex()[:16]


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class AdminAccounts:
    """Issues and resolves the admin plane's secrets, workspace by workspace."""

    def __init__(self, *, store: AdminPlaneStore, origin: str, csrf_key: bytes,
                 clock: Callable[[], int]) -> None:
        self._store = store
        self._origin = origin.rstrip("/")
        self._csrf_key = csrf_key
        self._clock = clock

    def __repr__(self) -> str:
        return "AdminAccounts(<redacted>)"

    # -- setup links -----------------------------------------------------------------------
    async def issue_setup_link(self, ws: Workspace, *, actor: str,
                               admin_name: str = "admin") -> str:
        """A one-time URL that lets one person register a passkey as an admin of `ws`.

        The secret rides in the fragment: browsers never send it to the server in the request
        line, so it reaches no access log or proxy; the page's script posts it once.
        """
        token = _secret(SETUP_PREFIX)
        now = self._clock()
        await self._store.create_setup_link(SetupLink(
            token_hash=secret_hash(token), workspace_id=ws.id, admin_name=admin_name,
            created_at_ms=now, expires_at_ms=now + SETUP_TTL_MS))
        await self._store.append_audit(AuditEvent(
            workspace_id=ws.id, actor=actor, action="admin.invite", subject=admin_name),
            now_ms=now)
        return f"{self._origin}/setup#{token}"

    # -- browser logins --------------------------------------------------------------------
    async def start_login(self, admin: Admin, *, passkey_id: bytes) -> str:
        """A new cookie for an admin who just proved a passkey (counts as a fresh step-up)."""
        cookie = secrets.token_urlsafe(32)
        now = self._clock()
        await self._store.create_login(
            AdminLogin(token_hash=secret_hash(cookie), admin_id=admin.id,
                       workspace_id=admin.workspace_id, created_at_ms=now,
                       expires_at_ms=now + LOGIN_TTL_MS, last_assertion_at_ms=now,
                       passkey_id=passkey_id),
            audit=AuditEvent(workspace_id=admin.workspace_id,
                             actor=f"admin:{admin.name}/{passkey_label(passkey_id)}",
                             action="admin.login", subject=admin.name))
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
        login = await self._store.get_login(login_hash, now_ms=self._clock())
        if login is None:
            return None
        admin = await self._store.get_admin(login.admin_id)
        return Principal(workspace_id=login.workspace_id, kind=ActorKind.ADMIN,
                         actor_id=admin.id, actor_name=admin.name, scopes=frozenset(Scope),
                         via="" if login.passkey_id is None else passkey_label(login.passkey_id),
                         login_hash=login.token_hash,
                         last_assertion_at_ms=login.last_assertion_at_ms)

    async def stepped_up(self, principal: Principal) -> None:
        """Record a fresh passkey assertion on the caller's login."""
        assert principal.login_hash is not None
        await self._store.refresh_assertion(principal.login_hash, now_ms=self._clock())

    async def logout(self, principal: Principal) -> None:
        if principal.login_hash is not None:
            await self._store.end_login(
                principal.login_hash, now_ms=self._clock(),
                audit=AuditEvent(workspace_id=principal.workspace_id, actor=principal.actor,
                                 action="admin.logout", subject=principal.actor_name))

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
        secret = _secret(TOKEN_PREFIX)
        now = self._clock()
        token = ApiToken(
            id=new_id(), workspace_id=ws.id, name=name,
            scopes=tuple(s for s in Scope if s in scopes), created_by=created_by,
            created_at_ms=now,
            expires_at_ms=None if expires_in_s is None else now + expires_in_s * 1000)
        await self._store.create_api_token(
            token, token_hash=secret_hash(secret),
            audit=AuditEvent(workspace_id=ws.id, actor=actor, action="token.create",
                             subject=token.id,
                             detail={"name": name, "scopes": [s.value for s in token.scopes],
                                     "expires_at_ms": token.expires_at_ms}))
        return token, secret

    async def resolve_bearer(self, secret: str) -> Principal | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) != len(TOKEN_PREFIX) + 43:
            return None
        token = await self._store.resolve_api_token(secret_hash(secret), now_ms=self._clock())
        if token is None:
            return None
        return Principal(workspace_id=token.workspace_id, kind=ActorKind.TOKEN,
                         actor_id=token.id, actor_name=token.name, via=token.id,
                         scopes=frozenset(token.scopes))

    async def list_api_tokens(self, ws_id: str) -> list[ApiToken]:
        return await self._store.list_api_tokens(ws_id)

    async def revoke_api_token(self, ws_id: str, token_id: str, *, actor: str) -> ApiToken:
        return await self._store.revoke_api_token(
            ws_id, token_id, now_ms=self._clock(),
            audit=AuditEvent(workspace_id=ws_id, actor=actor, action="token.revoke",
                             subject=token_id))
