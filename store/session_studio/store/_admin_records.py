"""Admin-plane rows: admins, their passkeys and logins, setup links, challenges, API tokens.

Secrets never appear here: cookies, setup links and API tokens are referred to by SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChallengePurpose(StrEnum):
    REGISTER = "register"  # first passkey of a new admin, through a setup link
    ADD_PASSKEY = "add_passkey"  # another passkey for a logged-in admin
    LOGIN = "login"
    STEP_UP = "step_up"  # a fresh assertion by the logged-in admin


class Scope(StrEnum):
    SESSIONS_READ = "sessions:read"
    SESSIONS_WRITE = "sessions:write"
    AGENTS_WRITE = "agents:write"
    # List and reject approvals; never approve (that takes a person's passkey, or the host).
    APPROVALS_WRITE = "approvals:write"


@dataclass(frozen=True, slots=True, kw_only=True)
class Admin:
    id: str
    workspace_id: str
    name: str
    user_handle: bytes
    created_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Passkey:
    credential_id: bytes
    admin_id: str
    public_key: bytes
    sign_count: int
    backed_up: bool
    created_at_ms: int
    last_used_at_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupLink:
    token_hash: bytes
    workspace_id: str
    admin_name: str
    created_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenge:
    id: str
    purpose: ChallengePurpose
    challenge: bytes
    expires_at_ms: int
    workspace_id: str | None = None
    admin_id: str | None = None
    setup_hash: bytes | None = None
    admin_name: str | None = None
    user_handle: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminLogin:
    """A logged-in browser (the cookie's row)."""

    token_hash: bytes
    admin_id: str
    workspace_id: str
    created_at_ms: int
    expires_at_ms: int
    last_assertion_at_ms: int
    passkey_id: bytes | None = None  # which passkey logged in (named in the audit trail)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    id: str
    workspace_id: str
    name: str
    scopes: tuple[Scope, ...]
    created_by: str | None
    created_at_ms: int
    expires_at_ms: int | None
    revoked_at_ms: int | None = None
    last_used_at_ms: int | None = None

    def active(self, now_ms: int) -> bool:
        return self.revoked_at_ms is None and (
            self.expires_at_ms is None or now_ms < self.expires_at_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecord:
    """One signing decision of a session, as the session page lists it."""

    at_ms: int
    method: str
    allowed: bool
    reason: str | None
    detail: str
    cost: int  # limit-unit atoms
    tx_hash: str | None
