"""Rows as frozen values: what the store hands out and takes in, never a live cursor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from session_studio.policy import Permission, SessionPolicy


class SessionType(StrEnum):
    APP = "app"
    AGENT = "agent"


class SessionStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ReservationStatus(StrEnum):
    # Held for a person's approval (issue 14): the cost counts, nothing is signed, no nonce.
    # Only the approval calls move it on (signed on approval, released otherwise).
    RESERVED = "reserved"
    SIGNED = "signed"  # signed in the reserving transaction; may be on chain from now on
    BROADCAST = "broadcast"  # the upstream accepted it
    UNKNOWN = "unknown"  # sent, but the upstream never answered: stays reserved
    RELEASED = "released"  # provably never reached the chain
    SETTLED = "settled"  # receipt seen, amount corrected to the real cost


# Forward-only transitions, the same on every backend (`Ledger.record_outcome`, `release`): the
# statuses a row must be in for the write to apply. Several processes finish one send (its own
# replica, and any survivor's settlement sweep once it looks abandoned), so a late writer must
# never undo an earlier one: settled and released are final, and `broadcast` (a node took it)
# is neither demoted to `unknown` nor released on a "nonce too low" a slow owner hears.
OUTCOME_FROM: Mapping[ReservationStatus, tuple[ReservationStatus, ...]] = {
    ReservationStatus.BROADCAST: (ReservationStatus.SIGNED, ReservationStatus.UNKNOWN),
    ReservationStatus.UNKNOWN: (ReservationStatus.SIGNED,),
}
# A held (`reserved`) request is not among them: nothing of it reached any node, and only its
# approval's decision (approve, reject, expire, revoke) may move it.
RELEASABLE = (ReservationStatus.SIGNED, ReservationStatus.UNKNOWN)


def outcome_sources(status: ReservationStatus) -> tuple[ReservationStatus, ...]:
    """The statuses `record_outcome(status=...)` moves a row from; ValueError for a status
    that has its own call (`release`, `settle`) or none."""
    try:
        return OUTCOME_FROM[status]
    except KeyError:
        raise ValueError(f"record_outcome records 'broadcast' or 'unknown', not "
                         f"{status.value!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    id: str
    name: str
    created_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCeiling:
    """The most an agent may give itself through self-service (`studio_createSession`).

    Every bound is required: a ceiling left partly open would be an open door, so an agent
    without a ceiling simply cannot create sessions. The one optional bound, `approve_above`,
    only ever adds a safeguard: with it, the agent's sessions hold costlier requests for a
    person, and the agent cannot raise the threshold; without it, nothing is held."""

    permissions: tuple[Permission, ...]
    chain_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    limit_unit: str
    per_tx: int  # atoms of limit_unit
    daily: int  # atoms of limit_unit
    max_lifetime_s: int
    max_live_sessions: int
    approve_above: int | None = None  # atoms of limit_unit; None: bounds nothing

    def to_json(self) -> dict[str, object]:
        return {"permissions": [p.value for p in self.permissions],
                "chain_ids": list(self.chain_ids), "tokens": list(self.tokens),
                "limit_unit": self.limit_unit, "per_tx": str(self.per_tx),
                "daily": str(self.daily), "max_lifetime_s": self.max_lifetime_s,
                "max_live_sessions": self.max_live_sessions,
                "approve_above": None if self.approve_above is None
                else str(self.approve_above)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AgentCeiling:
        return cls(permissions=tuple(Permission(p) for p in raw["permissions"]),
                   chain_ids=tuple(int(c) for c in raw["chain_ids"]),
                   tokens=tuple(raw["tokens"]), limit_unit=raw["limit_unit"],
                   per_tx=int(raw["per_tx"]), daily=int(raw["daily"]),
                   max_lifetime_s=int(raw["max_lifetime_s"]),
                   max_live_sessions=int(raw["max_live_sessions"]),
                   # Ceilings stored before issue 14 have no such key: they bound nothing.
                   approve_above=None if raw.get("approve_above") is None
                   else int(raw["approve_above"]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    id: str
    workspace_id: str
    name: str
    daily_budget: int | None  # USD atoms
    credential_version: int
    created_at_ms: int
    ceiling: AgentCeiling | None = None  # None: no self-service session creation
    rotate_every_s: int | None = None  # the server rotates its sessions this often
    disabled_at_ms: int | None = None  # `agents disable`: credential dead, sessions revoked


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A session as stored; key material is never part of it (see `Store.sealed_key`)."""

    id: str
    workspace_id: str
    type: SessionType
    label: str
    agent_id: str | None
    agent_name: str | None
    key_hash: str
    address: str
    permissions: tuple[Permission, ...]
    chain_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    limit_unit: str
    per_tx_limit: int
    daily_limit: int
    created_at_ms: int
    expires_at_ms: int
    revoked_at_ms: int | None
    lineage_id: str
    predecessor_id: str | None
    credential_version: int
    last_used_at_ms: int | None = None
    request_count: int = 0
    recipients: tuple[str, ...] | None = None  # lower-case; None = any
    contracts: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    rate_limit_per_minute: int | None = None
    max_fee_per_gas: int | None = None
    agent_daily_budget: int | None = None  # the owning agent's budget (USD atoms), if any
    approve_above: int | None = None  # unit atoms; costlier requests wait for a person

    def status(self, now_ms: int) -> SessionStatus:
        """Derived, never stored: an expired session reads `expired` without anyone touching it."""
        if self.revoked_at_ms is not None:
            return SessionStatus.REVOKED
        if now_ms >= self.expires_at_ms:
            return SessionStatus.EXPIRED
        return SessionStatus.ACTIVE

    def policy(self) -> SessionPolicy:
        return SessionPolicy(
            permissions=frozenset(self.permissions),
            chain_ids=frozenset(self.chain_ids),
            tokens=frozenset(self.tokens),
            unit=self.limit_unit,
            per_tx=self.per_tx_limit,
            daily=self.daily_limit,
            max_fee_per_gas=self.max_fee_per_gas,
            recipients=None if self.recipients is None else frozenset(self.recipients),
            contracts={address: None if selectors is None else frozenset(selectors)
                       for address, selectors in self.contracts.items()},
            rate_limit_per_minute=self.rate_limit_per_minute,
            agent_daily_budget=self.agent_daily_budget,
            approve_above=self.approve_above,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialOwner:
    """Who a bearer token speaks for: one app session, or every session of one agent."""

    workspace_id: str
    kind: str  # "session" | "agent"
    owner_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionFilter:
    type: SessionType | None = None
    status: SessionStatus | None = None
    chain_id: int | None = None
    agent_name: str | None = None
    label_contains: str | None = None
    sort: str = "-created"  # created | last_used | expiry, "-" for descending
    limit: int = 500
    # Keyset pagination: (sort value, session id) of the last row of the previous page.
    after: tuple[int, str] | None = None

    def sort_value(self, session: Session) -> int:
        """The value `after` takes for `session` under this filter's sort."""
        key = self.sort.lstrip("-")
        if key == "last_used":
            return session.last_used_at_ms or 0
        if key == "expiry":
            return session.expires_at_ms
        return session.created_at_ms


# The largest nonce the ledger records: it stores a nonce and its successor in signed 64-bit
# integers (SQLite's INTEGER, Postgres' BIGINT). EIP-2681 caps account nonces at 2**64 - 1, but
# no account reaches 2**63 (a transaction per millisecond for 290 million years), so a nonce
# beyond this is refused as invalid params rather than stored in another representation.
MAX_LEDGER_NONCE = 2**63 - 2


@dataclass(frozen=True, slots=True, kw_only=True)
class NonceRequest:
    """How to pick the nonce in the reserving transaction.

    `explicit` is the client's own nonce, honoured as given when it is the next nonce
    (max(counter, upstream_pending)) or one already counted (a replacement); one past the next
    would open a gap and is refused with `NonceGap` (a transaction behind a gap can be held
    back and land whenever the holder fills it). Otherwise the store hands out the lowest
    released nonce below its counter, else the first nonce from max(counter, upstream_pending)
    that no live reservation holds (a far-ahead nonce signed before gaps were refused is
    skipped). Nonces above MAX_LEDGER_NONCE are refused with `NonceOutOfRange`.
    """

    chain_id: int
    address: str
    upstream_pending: int
    explicit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    id: str
    session_id: str
    amount: int
    nonce: int | None
    chain_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbroadcastSend:
    """A signed send whose broadcast is not confirmed: what crash recovery re-sends."""

    reservation: Reservation
    address: str
    raw_tx: bytes
    tx_hash: str  # to ask the chain for its receipt before believing a "nonce too low"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsettledSend:
    """A transaction whose receipt has not been settled yet: a broadcast (or unknown) send,
    or an `eth_signTransaction` result the client holds (status SIGNED)."""

    reservation: Reservation
    address: str  # the signer, EIP-55
    tx_hash: str
    status: ReservationStatus  # BROADCAST or UNKNOWN; SIGNED for eth_signTransaction
    gas_reserved: int | None  # limit-unit atoms; None for rows reserved before settlement
    gas_wei_reserved: int | None  # worst-case gas in wei; None when not known
    created_at_ms: int

    @property
    def cursor(self) -> tuple[int, str]:
        """Where the next page of `Store.unsettled` starts."""
        return (self.created_at_ms, self.reservation.id)


# -- observability: the fleet snapshot behind the metrics, and batched usage ---------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSession:
    """One active session as the metrics show it: identity labels and window figures."""

    key_hash: str
    workspace: str  # the workspace's name
    type: SessionType
    label: str
    agent_name: str | None
    limit_unit: str
    daily_limit: int  # unit atoms
    spent_in_window: int  # unit atoms, the lineage's window sum
    recent_denials: int  # policy denials since `denials_since_ms`
    request_count: int
    last_used_at_ms: int | None
    created_at_ms: int = 0  # with expires_at_ms: what the health badges need
    expires_at_ms: int = 2**62


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetAgent:
    """An agent with a daily budget (USD atoms) and what its USD-limited lineages spent."""

    workspace: str
    name: str
    daily_budget: int  # USD atoms
    spent_in_window: int  # USD atoms


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSnapshot:
    """Everything the metrics collector exports, read at `taken_at_ms` in one go."""

    taken_at_ms: int
    session_counts: Mapping[tuple[SessionType, SessionStatus], int]
    sessions: tuple[FleetSession, ...]  # active only; empty when per-session rows were not asked
    agents: tuple[FleetAgent, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionUsage:
    """Requests one session served since the last flush, and when the latest one came."""

    session_id: str
    requests: int
    last_used_at_ms: int
