"""The admin plane's accounts: setup links, WebAuthn challenges, admins, passkeys, logins and
API tokens.

Consistency contract (tests/store/contract/ checks it):
- Single-use things are consumed atomically: a challenge is taken once (`take_challenge`), a
  setup link redeemed once (`register_admin`), even by two requests racing for it.
- Admin names are unique per workspace, enforced by the writing transaction (Conflict), not by
  a read before it.
- Every mutation commits together with the `audit` event it is given (see `AuditLog`).
- `get_login` and `resolve_api_token` judge expiry at the `now_ms` given and only return live
  rows; once `end_login` / `revoke_api_token` returned, the cookie or token resolves to None.
"""

from __future__ import annotations

from typing import Protocol

from ._admin_records import (
    Admin,
    AdminLogin,
    ApiToken,
    Challenge,
    ChallengePurpose,
    Passkey,
    SetupLink,
)
from ._audit import AuditEvent


class AdminRepository(Protocol):
    async def create_setup_link(self, link: SetupLink) -> None: ...
    async def invite_admin(self, link: SetupLink, *, now_ms: int,
                           audit: AuditEvent | None = None) -> None:
        """`create_setup_link` for a name no admin of the workspace holds yet (Conflict
        otherwise), checked and written with `audit` in one transaction."""
    async def setup_link(self, token_hash: bytes, *, now_ms: int) -> SetupLink | None:
        """The link if it exists, is unused and has not expired."""
    async def save_challenge(self, challenge: Challenge, *, now_ms: int) -> None: ...
    async def take_challenge(self, challenge_id: str, purpose: ChallengePurpose, *,
                             now_ms: int) -> Challenge | None:
        """Consume a challenge (single use); None if unknown, of another purpose or expired."""
    async def register_admin(self, admin: Admin, passkey: Passkey, *, setup_hash: bytes,
                             now_ms: int, audit: AuditEvent | None = None) -> None:
        """Redeem the setup link, create the admin and its first passkey, atomically;
        Conflict if the link was used meanwhile or the name is taken."""
    async def get_admin(self, admin_id: str) -> Admin: ...
    async def list_admins(self, workspace_id: str) -> list[Admin]: ...
    async def add_passkey(self, passkey: Passkey, *,
                          audit: AuditEvent | None = None) -> None: ...
    async def get_passkey(self, credential_id: bytes) -> Passkey | None: ...
    async def passkeys_of(self, admin_id: str) -> list[Passkey]: ...
    async def record_assertion(self, credential_id: bytes, *, sign_count: int,
                               now_ms: int) -> None: ...
    async def create_login(self, login: AdminLogin, *,
                           audit: AuditEvent | None = None) -> None: ...
    async def get_login(self, token_hash: bytes, *, now_ms: int) -> AdminLogin | None:
        """The live (not ended, not expired) login of a cookie's hash."""
    async def refresh_assertion(self, token_hash: bytes, *, now_ms: int) -> None: ...
    async def end_login(self, token_hash: bytes, *, now_ms: int,
                        audit: AuditEvent | None = None) -> None: ...
    async def create_api_token(self, token: ApiToken, *, token_hash: bytes,
                               audit: AuditEvent | None = None) -> None: ...
    async def resolve_api_token(self, token_hash: bytes, *, now_ms: int) -> ApiToken | None:
        """The active (not revoked, not expired) token of a hash."""
    async def list_api_tokens(self, workspace_id: str) -> list[ApiToken]: ...
    async def revoke_api_token(self, workspace_id: str, token_id: str, *, now_ms: int,
                               audit: AuditEvent | None = None) -> ApiToken: ...
