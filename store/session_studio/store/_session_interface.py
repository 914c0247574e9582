"""Workspaces, agents, sessions and their credentials.

Consistency contract (tests/store/contract/ checks it):
- Every mutation is one transaction together with the `audit` event it is given (the audit
  chain and these rows live in one database: an action and its audit row commit together).
- `revoke_session`, `rotate_session` and `disable_agent` take the ledger's lock (see
  `Ledger`): once they return, no signature for the revoked session is in flight or can begin,
  and its sealed key and its own credential are gone.
- Caps are checked in the writing transaction (`max_live_for_agent`, a reissue's expected
  `credential_version`), so concurrent writers cannot overshoot or both win.
- Reads (`get_*`, `list_*`, `resolve_credential`, `sessions_of`) see committed data and may be
  stale: a credential resolved just before a revoke still reaches the session, and it is the
  ledger's in-lock `revoked` check that refuses the signature.
"""

from __future__ import annotations

from typing import Protocol

from ._audit import AuditEvent
from ._records import (
    Agent,
    AgentCeiling,
    CredentialOwner,
    Session,
    SessionFilter,
    Workspace,
)


class CredentialResolver(Protocol):
    """Who a bearer credential belongs to, and which sessions it reaches (the RPC plane's
    authentication; only hashes are stored, so a stolen database yields no credential)."""

    async def resolve_credential(self, token_hash: bytes) -> CredentialOwner | None:
        """The owner of a live (not revoked) credential, else None."""
    async def sessions_of(self, owner: CredentialOwner) -> list[Session]: ...
    async def get_session_by_id(self, session_id: str) -> Session:
        """NotFound if there is none; for signing what an approval held for a session."""
    async def cache_epoch(self) -> int:
        """A counter that moves in the same commit as any change to credentials, sessions'
        scope or lifetime, or agents' disabling (database triggers). A process that caches
        what `resolve_credential` and `sessions_of` answered drops it when this moved."""


class SessionRepository(CredentialResolver, Protocol):
    """Create, read, rotate and revoke workspaces, agents and sessions."""

    # Workspaces and agents
    async def create_workspace(self, name: str, *, now_ms: int, workspace_id: str | None = None,
                               audit: AuditEvent | None = None) -> Workspace:
        """Conflict if the name is taken; `audit` is written in the same transaction."""
    async def list_workspaces(self) -> list[Workspace]: ...
    async def get_workspace(self, name: str) -> Workspace: ...
    async def create_agent(
        self, workspace_id: str, name: str, *, daily_budget: int | None, now_ms: int,
        credential_hash: bytes, agent_id: str, audit: AuditEvent | None = None,
        ceiling: AgentCeiling | None = None, rotate_every_s: int | None = None,
    ) -> Agent: ...
    async def get_agent(self, workspace_id: str, name: str) -> Agent: ...
    async def list_agents(self, workspace_id: str) -> list[Agent]: ...
    async def reissue_agent_credential(
        self, agent: Agent, *, credential_hash: bytes, now_ms: int,
        audit: AuditEvent | None = None,
    ) -> Agent:
        """Move the agent from `agent.credential_version` to the next version: every earlier
        credential of the agent is revoked and the new one's hash inserted, in one transaction
        (so no moment exists with two working credentials, or none). Conflict if the version
        moved meanwhile (a concurrent reissue); AgentDisabled if the agent was disabled."""
    async def disable_agent(self, agent: Agent, *, now_ms: int,
                            audit: AuditEvent) -> list[Session]:
        """Disable the agent for good, in one transaction: its credentials are revoked, every
        session of it that is not yet revoked is revoked with its key destroyed (as
        `revoke_session` does), and the audit trail gets `audit` plus one `session.revoke`
        entry (same actor) per session. Returns those sessions as they were before. Conflict
        if it was disabled already."""

    # Sessions
    async def insert_session(
        self, session: Session, *, sealed_key: bytes, credential_hash: bytes | None,
        audit: AuditEvent | None = None, max_live_for_agent: int | None = None,
        self_service: bool = False,
    ) -> None:
        """Insert the session (and its credential), appending `audit` in the same
        transaction; every mutation below takes the same optional audit event.
        `max_live_for_agent`: refuse (Conflict) if the session's agent already has that many
        live sessions, checked in the inserting transaction so concurrent creates cannot
        overshoot. `self_service`: the agent created it for itself, so its lineage joins the
        agent's one self-service window (`reserve_and_sign` bounds that window by the
        ceiling's daily limit)."""
    async def get_session(self, workspace_id: str, key_hash: str) -> Session: ...
    async def list_sessions(
        self, workspace_id: str, query: SessionFilter, *, now_ms: int
    ) -> list[Session]: ...
    async def sealed_key(self, session_id: str) -> bytes | None: ...
    async def revoke_session(self, session_id: str, *, now_ms: int,
                             audit: AuditEvent | None = None) -> None:
        """Mark revoked, destroy the sealed key and the session's own credential, atomically."""
    async def rotate_session(
        self, old: Session, successor: Session, *, sealed_key: bytes,
        credential_hash: bytes | None, now_ms: int, audit: AuditEvent | None = None,
    ) -> None:
        """Revoke `old` and insert `successor` (same lineage) in one transaction."""
