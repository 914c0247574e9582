"""The one store interface. Policy and the planes depend on this, never on SQLite.

A PostgreSQL backend for several replicas implements the same protocol: `reserve_spend` there
locks the lineage row (`SELECT ... FOR UPDATE`) where SQLite takes the database write lock
(`BEGIN IMMEDIATE`); the evaluate-inside-the-transaction contract is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from session_studio.policy import Decision, SessionState

from ._admin_interface import AdminStore
from ._audit import AuditEvent
from ._records import (
    Agent,
    AgentCeiling,
    CredentialOwner,
    FleetSnapshot,
    NonceRequest,
    Reservation,
    ReservationStatus,
    Session,
    SessionFilter,
    SessionUsage,
    UnbroadcastSend,
    UnsettledSend,
    Workspace,
)

# The engine's verdict on the state read inside the reserving transaction, judged at `now_ms`:
# the clock as the store read it there, once it held the ledger's lock.
Evaluate = Callable[[SessionState, int], Decision]
Clock = Callable[[], int]  # unix milliseconds
T = TypeVar("T")
# Called inside the reserving transaction with the picked nonce and the sealed key; returns the
# signed artefact, its transaction hash and raw bytes (both None for message signatures).
Sign = Callable[[int | None, bytes | None], tuple[T, str | None, bytes | None]]


class Store(AdminStore, Protocol):
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless a trivial query succeeds (readiness)."""

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
    async def get_session_by_id(self, session_id: str) -> Session: ...
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

    # Credentials
    async def resolve_credential(self, token_hash: bytes) -> CredentialOwner | None: ...
    async def sessions_of(self, owner: CredentialOwner) -> list[Session]: ...

    # The ledger
    async def reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T],
        gas_wei: int | None = None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        """Read the session's state and window usage, evaluate, and on allow reserve the cost,
        pick a nonce and sign: all in one transaction. No concurrent request sees stale usage,
        and a revoke (which needs the same write lock) cannot return while a signature for the
        session is still being made. If `sign` raises, nothing is reserved.

        `clock` is called once, after the lock is taken: expiry, the rate limit's minute and
        the spend window (`window_mode`, see `policy.window_start_ms`) are judged at that
        instant, never at a time read before a wait for the lock (issue 10, item 13).

        The reservation records `Decision.gas_cost` (the worst-case gas part of the cost, in
        unit atoms) and `gas_wei` (the same worst case in wei, gas * maxFeePerGas), which
        settlement needs to scale the gas part down to the receipt's real cost."""
    async def release(self, reservation: Reservation, *, now_ms: int,
                      return_nonce: bool) -> None:
        """The request provably never reached the chain: give back its spend (and nonce)."""
    async def record_outcome(
        self, reservation: Reservation, *, status: ReservationStatus, now_ms: int
    ) -> None: ...
    async def unbroadcast_sends(self) -> list[UnbroadcastSend]:
        """Sends signed (or sent without an answer) but not known to be broadcast, by nonce."""
    async def unsettled(self, *, limit: int = 200,
                        after: tuple[int, str] | None = None) -> list[UnsettledSend]:
        """What settlement follows, oldest first, at most `limit`, starting after the cursor
        (`UnsettledSend.cursor`): `eth_sendTransaction` reservations still `broadcast` or
        `unknown`, and `eth_signTransaction` ones still `signed` (held by the client, who may
        broadcast them any time), none settled yet."""
    async def settle(
        self, reservation_id: str, *, amount: int, status: ReservationStatus, now_ms: int,
        gas_wei_used: int | None = None, receipt_status: int | None = None,
    ) -> bool:
        """Correct an unsettled reservation to what it really spent, in one transaction.

        `status` SETTLED: the reservation now counts `amount` (unit atoms) and its minute
        bucket moves by exactly `amount` minus what it held. `status` RELEASED: it never
        reached the chain; `amount` must be 0, its whole amount leaves the bucket, the row
        keeps the amount it had reserved (as `release` does) and its nonce is not returned.
        The real gas (`gas_wei_used`, wei) and the receipt's status are recorded. Returns
        False, changing nothing, if the reservation is already settled or released, or is not
        `broadcast`/`unknown` (a send) or `signed` (an `eth_signTransaction`): settling twice
        (two processes, a repeated round) is a no-op, and a send still `signed` is left to
        crash recovery."""
    async def spent_in_window(self, lineage_id: str, *, window_start_ms: int) -> int: ...
    async def reservations(self, session_id: str) -> Sequence[tuple[str, int, str | None]]:
        """(status, amount, tx_hash) of every reservation of a session, oldest first."""

    # Observability
    async def fleet_snapshot(
        self, *, now_ms: int, window_start_ms: int, denials_since_ms: int, per_session: bool,
    ) -> FleetSnapshot:
        """Sessions counted by type and status, every agent with a daily budget and the spend
        of its USD-limited lineages, and (if `per_session`) every active session with its
        window spend and denials since `denials_since_ms`: a handful of queries for the whole
        fleet, whatever its size, so metrics never cost a query per session per scrape."""
    async def record_usage(self, batch: Sequence[SessionUsage]) -> None:
        """Add each entry's requests to its session's `request_count` and move
        `last_used_at` forward (never back), all in one transaction."""
