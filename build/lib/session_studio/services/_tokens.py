"""Admin API tokens: the one service that issues, lists, resolves and revokes them.

Each issue and revoke writes its audit row in the same transaction, and the lifetime bound is
checked here only, so the CLI, the admin API and the pages refuse the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable

from session_studio.basics import TOKEN_PREFIX, new_secret, secret_hash
from session_studio.store import ApiToken, AuditEvent, Scope, Store, Workspace, new_id

from ._sessions import InvalidSpec

MAX_TOKEN_LIFETIME_S = 366 * 24 * 3600


def check_token_lifetime(lifetime_s: int | None) -> None:
    """None is a token that never expires; anything else is 1 second to 366 days."""
    if lifetime_s is not None and not 0 < lifetime_s <= MAX_TOKEN_LIFETIME_S:
        raise InvalidSpec("expires_in", "between 1 second and 366 days (or null for a token "
                                        "that never expires)")


class TokenService:
    def __init__(self, *, store: Store, clock: Callable[[], int]) -> None:
        self._store = store
        self._clock = clock

    def __repr__(self) -> str:
        return "TokenService(<redacted>)"

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

    async def resolve(self, secret: str) -> ApiToken | None:
        """The active (not revoked, not expired) token of a presented secret."""
        return await self._store.resolve_api_token(secret_hash(secret), now_ms=self._clock())
