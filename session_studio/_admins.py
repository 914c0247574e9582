"""Admins and admin API tokens: the one service behind the CLI, the admin API and the pages.

Invites (setup links) and tokens are issued here, each with its audit row in the same
transaction, and the token lifetime bound is checked here only, so every door refuses the
same tokens.
"""

from __future__ import annotations

from collections.abc import Callable

from session_studio.store import (
    Admin,
    ApiToken,
    AuditEvent,
    Passkey,
    Scope,
    SetupLink,
    Store,
    Workspace,
    new_id,
)

from ._secrets import SETUP_PREFIX, TOKEN_PREFIX, new_secret, secret_hash
from ._service import InvalidSpec

SETUP_TTL_MS = 24 * 3600_000
MAX_TOKEN_LIFETIME_S = 366 * 24 * 3600


def check_token_lifetime(lifetime_s: int | None) -> None:
    """None is a token that never expires; anything else is 1 second to 366 days."""
    if lifetime_s is not None and not 0 < lifetime_s <= MAX_TOKEN_LIFETIME_S:
        raise InvalidSpec("expires_in", "between 1 second and 366 days (or null for a token "
                                        "that never expires)")


class AdminService:
    """Admins, their invites and the workspace's admin API tokens."""

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

    # -- admin API tokens ------------------------------------------------------------------
    async def create_token(self, ws: Workspace, *, name: str, scopes: frozenset[Scope],
                           expires_in_s: int | None, created_by: str | None,
                           actor: str) -> tuple[ApiToken, str]:
        """A new token and its secret (shown once); InvalidSpec for a lifetime out of bounds."""
        check_token_lifetime(expires_in_s)
        secret = new_secret(TOKEN_PREFIX)
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

    async def list_tokens(self, ws_id: str) -> list[ApiToken]:
        return await self._store.list_api_tokens(ws_id)

    async def revoke_token(self, ws_id: str, token_id: str, *, actor: str) -> ApiToken:
        return await self._store.revoke_api_token(
            ws_id, token_id, now_ms=self._clock(),
            audit=AuditEvent(workspace_id=ws_id, actor=actor, action="token.revoke",
                             subject=token_id))
