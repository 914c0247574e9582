"""The JSON shapes the SDK returns, as `TypedDict`s: the wire format of the admin API
(`/api/v1/openapi.json`, `session_studio.admin_ui._schemas`) and of the `studio_*` RPC methods.

Plain dicts rather than classes on purpose: they are what the server sent, so a field the
server adds later is there to read without an SDK upgrade, and `json.dumps` writes them back.
Money is always a decimal string; times are ISO 8601 UTC strings.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Limits(TypedDict):
    unit: str
    per_tx: str
    daily: str
    # A request costing more is held for a person's approval; null: none is (absent from
    # servers before issue 14).
    approve_above: NotRequired[str | None]


class SessionInfo(TypedDict):
    """A session as `GET /sessions/{key_hash}` and `studio_listSessions` describe it."""

    key_hash: str
    address: str
    type: str
    label: str
    agent: str | None
    status: str  # active | revoked | expired
    permissions: list[str]
    chain_ids: list[int]
    tokens: list[str]
    limits: Limits
    spent_in_window: str
    created_at: str
    expires_at: str
    last_used_at: str | None
    request_count: int
    health: list[str]
    recipients: NotRequired[list[str] | None]
    contracts: NotRequired[dict[str, list[str] | None]]
    rate_limit_per_minute: NotRequired[int | None]
    max_fee_per_gas: NotRequired[str | None]


class Artifact(TypedDict):
    """The provisioning artifact (create, rotate, export): everything a client needs.

    `token_addresses` ({chain id: {symbol: ERC-20 address}}) is read when present: the SDK's
    `transfer()` needs a token's address, which older servers do not export.
    """

    key_hash: str
    address: str
    type: str
    label: str
    agent: str | None
    permissions: list[str]
    chain_ids: list[int]
    tokens: list[str]
    limits: Limits
    expires_at: str
    credential: str
    rpc_url: str
    rpc_urls: dict[str, str]
    token_addresses: NotRequired[dict[str, dict[str, str]]]


class SessionStatus(TypedDict):
    """One entry of `studio_getSessionStatuses`: what an agent needs to pick a session."""

    key_hash: str
    address: str
    status: str
    expires_at: str
    spent_in_window: str
    limits: Limits
    health: list[str]
    chain_ids: list[int]


class BulkRevokeResult(TypedDict):
    count: int
    key_hashes: list[str]
    dry_run: bool


class Usage(TypedDict):
    key_hash: str
    status: str
    last_used_at: str | None
    request_count: int
    spent_in_window: str
    limits: Limits
    utilization: str
    health: list[str]


class Event(TypedDict):
    at: str
    method: str
    allowed: bool
    reason: str | None
    detail: str
    cost: str
    tx_hash: str | None


class CeilingInfo(TypedDict):
    permissions: list[str]
    chain_ids: list[int]
    tokens: list[str]
    limit_unit: str
    per_tx_limit: str
    daily_limit: str
    max_lifetime: str
    max_live_sessions: int


class AgentInfo(TypedDict):
    name: str
    daily_budget: str | None
    created_at: str
    active_sessions: int
    ceiling: NotRequired[CeilingInfo | None]  # None: the agent cannot create sessions
    rotate_every_s: NotRequired[int | None]
    credential: NotRequired[str]  # only in the answer to registering or reissuing it
    status: NotRequired[str]  # "active" or "disabled"
    disabled_at: NotRequired[str | None]
    revoked: NotRequired[list[str]]  # in the answer to disabling it: the sessions it revoked


JsonObject = dict[str, Any]
