"""Who is calling the admin plane: a logged-in admin (cookie) or an admin API token (bearer)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from session_studio.store import Scope

STEP_UP_MS = 5 * 60_000  # a passkey assertion this recent allows sensitive actions


class ActorKind(StrEnum):
    ADMIN = "admin"
    TOKEN = "token"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    workspace_id: str
    kind: ActorKind
    actor_id: str  # admin id or token id
    actor_name: str
    scopes: frozenset[Scope]
    via: str = ""  # which passkey or token: the audit trail names it
    login_hash: bytes | None = None  # the cookie's hash, for CSRF, step-up and logout
    last_assertion_at_ms: int | None = None

    def can(self, scope: Scope) -> bool:
        """A write scope implies the matching read (CONTRACT.md: `sessions:write` may read)."""
        if scope in self.scopes:
            return True
        return scope is Scope.SESSIONS_READ and Scope.SESSIONS_WRITE in self.scopes

    def stepped_up(self, now_ms: int) -> bool:
        """A person proved presence with a passkey within the last five minutes.

        Tokens never qualify: creating an app session or a token needs a human.
        """
        return (self.kind is ActorKind.ADMIN and self.last_assertion_at_ms is not None
                and now_ms - self.last_assertion_at_ms <= STEP_UP_MS)

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"{self.kind.value}:{self.actor_name}" + (f"/{self.via}" if self.via else "")
