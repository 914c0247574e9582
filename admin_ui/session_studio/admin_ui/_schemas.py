"""The admin API's shapes, as pydantic models: the one definition that both validates requests
and generates `/api/v1/openapi.json`, so the document cannot drift from the handlers.

Money is a decimal string everywhere (never a float); times are ISO 8601 UTC strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from session_studio.policy import Permission
from session_studio.store import Scope, SessionStatus, SessionType

Money = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,40}(\.[0-9]{1,18})?$"),
                  Field(examples=["10", "0.5"])]
Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
Selector = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{8}$")]
Duration = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,9}[smhd]?$"),
                     Field(description="seconds, or a number with s, m, h or d", examples=["7d"])]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=20)]
# SQLite integers are signed 64-bit: anything larger must be refused before a query sees it.
MAX_INT = 2**63 - 1
ChainId = Annotated[int, Field(ge=0, le=MAX_INT)]
Timestamp = Annotated[str, Field(description="ISO 8601, UTC", examples=["2026-11-25T12:00:00Z"])]


class _In(BaseModel):
    """Requests: unknown fields are refused, so a typo is an error rather than a default."""

    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Sort(StrEnum):
    CREATED = "created"
    CREATED_DESC = "-created"
    LAST_USED = "last_used"
    LAST_USED_DESC = "-last_used"
    EXPIRY = "expiry"
    EXPIRY_DESC = "-expiry"


class SnippetLang(StrEnum):
    PYTHON = "python"
    VIEM = "viem"
    ETHERS = "ethers"


# -- errors ---------------------------------------------------------------------------------
class ErrorDetail(_Out):
    code: str = Field(description="machine-readable, e.g. validation_error, not_found")
    message: str
    field: str | None = Field(default=None, description="the offending field, when one is")


class ErrorBody(_Out):
    error: ErrorDetail


# -- sessions -------------------------------------------------------------------------------
class Limits(_Out):
    unit: str
    per_tx: Money
    daily: Money
    approve_above: Money | None = Field(
        default=None, description="a request costing more is held for a person's approval; "
                                  "null: none is held")


class SessionPolicyFields(_Out):
    key_hash: str = Field(description="keccak256 of the 64-byte public key")
    address: str
    type: SessionType
    label: str
    agent: str | None
    permissions: list[Permission]
    chain_ids: list[int]
    tokens: list[str]
    limits: Limits
    expires_at: Timestamp
    recipients: list[str] | None
    contracts: dict[str, list[str] | None]
    rate_limit_per_minute: int | None
    max_fee_per_gas: str | None = Field(description="wei, decimal string")


class SessionOut(SessionPolicyFields):
    status: SessionStatus
    spent_in_window: Money
    created_at: Timestamp
    last_used_at: Timestamp | None
    request_count: int
    health: list[str]


class SessionPage(_Out):
    items: list[SessionOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at "
                                                "the end")


class Artifact(SessionPolicyFields):
    """The provisioning artifact: everything a client needs, credential included."""

    credential: str
    rpc_url: str
    rpc_urls: dict[str, str]
    token_addresses: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="chain id -> token symbol -> ERC-20 address")
    native_symbols: dict[str, str] = Field(
        default_factory=dict, description="chain id -> the native coin's symbol")


class SessionQuery(_In):
    type: SessionType | None = None
    status: SessionStatus | None = None
    chain: ChainId | None = None
    agent: Name | None = None
    label: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="substring, case-insensitive")
    sort: Sort = Sort.CREATED_DESC
    cursor: Annotated[str, StringConstraints(max_length=500)] | None = None
    limit: int = Field(default=50, ge=1, le=200)


class SessionCreate(_In):
    type: SessionType
    label: Label
    agent: Name | None = Field(default=None, description="required for agent sessions")
    chain_ids: list[ChainId] = Field(min_length=1, max_length=50)
    permissions: list[Permission] = Field(min_length=1)
    tokens: list[Symbol] = Field(min_length=1, max_length=100)
    limit_unit: Symbol = "USD"
    per_tx_limit: Money
    daily_limit: Money
    expires_in: Duration
    recipients: list[Address] | None = Field(default=None, max_length=1000,
                                             description="null: any recipient")
    contracts: dict[Address, list[Selector] | None] | None = Field(
        default=None, description="contract_call allowlist: address -> selectors (null: any)")
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=1_000_000)
    max_fee_per_gas_gwei: Money | None = None
    approve_above: Money | None = Field(
        default=None, description="in the limit unit: a request costing more is held for a "
                                  "person's approval (at most per_tx_limit); null: never held")


class BulkRevoke(_In):
    type: SessionType | None = None
    chain: ChainId | None = None
    agent: Name | None = None
    label: Annotated[str, StringConstraints(max_length=200)] | None = None
    dry_run: bool = Field(default=False, description="only count what would be revoked")


class BulkRevokeResult(_Out):
    count: int
    key_hashes: list[str]
    dry_run: bool


class Usage(_Out):
    key_hash: str
    status: SessionStatus
    last_used_at: Timestamp | None
    request_count: int
    spent_in_window: Money
    limits: Limits
    utilization: str = Field(description="spent_in_window / daily, decimal string")
    health: list[str]


class Event(_Out):
    at: Timestamp
    method: str
    allowed: bool
    reason: str | None
    detail: str
    cost: Money
    tx_hash: str | None


class EventPage(_Out):
    items: list[Event]


class EventQuery(_In):
    limit: int = Field(default=50, ge=1, le=500)


class SnippetQuery(_In):
    lang: SnippetLang = SnippetLang.PYTHON


class Snippet(_Out):
    lang: SnippetLang
    code: str


# -- agents ---------------------------------------------------------------------------------
class Ceiling(BaseModel):
    """The most an agent may give itself through `studio_createSession`."""

    model_config = ConfigDict(extra="forbid")
    permissions: list[Permission] = Field(min_length=1)
    chain_ids: list[ChainId] = Field(min_length=1, max_length=50)
    tokens: list[Symbol] = Field(min_length=1, max_length=100)
    limit_unit: Symbol = "USD"
    per_tx_limit: Money
    daily_limit: Money
    max_lifetime: Duration
    max_live_sessions: int = Field(ge=1, le=1000)
    approve_above: Money | None = Field(
        default=None, description="the highest approval threshold the agent may give itself; "
                                  "a session asking for none gets this one. null: no bound")


class AgentOut(_Out):
    name: str
    daily_budget: Money | None
    created_at: Timestamp
    active_sessions: int
    ceiling: Ceiling | None = Field(default=None, description="null: no self-service")
    rotate_every_s: int | None = None
    status: Literal["active", "disabled"] = Field(
        default="active", description="disabled: credential dead, every session revoked")
    disabled_at: Timestamp | None = None


class AgentList(_Out):
    items: list[AgentOut]


class AgentCreate(_In):
    name: Name
    daily_budget: Money | None = Field(default=None, description="USD across all its sessions")
    ceiling: Ceiling | None = None
    rotate_every: Duration | None = Field(default=None, description="the server rotates the "
                                                                    "agent's sessions this often")


class AgentCreated(AgentOut):
    credential: str = Field(description="the agent's RPC credential, shown once here")


class AgentReissued(AgentOut):
    credential: str = Field(description="the agent's new RPC credential, shown once here; "
                                        "the previous one is refused (HTTP 401) from now on")


class AgentDisabledOut(AgentOut):
    revoked: list[str] = Field(description="key hashes of the sessions the disable revoked")


# -- admin API tokens -----------------------------------------------------------------------
class TokenOut(_Out):
    id: str
    name: str
    scopes: list[Scope]
    status: Literal["active", "revoked", "expired"]
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None


class TokenList(_Out):
    items: list[TokenOut]


class TokenCreate(_In):
    name: Label
    scopes: list[Scope] = Field(min_length=1)
    expires_in: Duration | None = Field(default="30d", description="null: never expires")


class TokenCreated(TokenOut):
    token: str = Field(description="the bearer secret, shown once here")


# -- passkey auth ---------------------------------------------------------------------------
class RegisterBegin(_In):
    setup_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class CeremonyBegun(_Out):
    challenge_id: str
    options: dict[str, Any] = Field(description="for navigator.credentials.create/get, "
                                                "in WebAuthn JSON form")


class CeremonyFinish(_In):
    challenge_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    credential: dict[str, Any] = Field(description="PublicKeyCredential.toJSON()")


class Me(_Out):
    admin: str
    workspace: str
    csrf_token: str
    step_up_valid_until: Timestamp | None


class AdminInvite(_In):
    name: Name


class InviteLink(_Out):
    setup_link: str


class AuditQuery(_In):
    subject: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="only entries about this key hash, agent or token id")
    after: int = Field(default=0, ge=0, le=MAX_INT,
                       description="continue after this sequence number")
    limit: int = Field(default=100, ge=1, le=1000)


class AuditOut(_Out):
    seq: int
    at: Timestamp
    actor: str = Field(description="admin:<name>/passkey:<id>, token:<name>/<id>, cli:<user>, "
                                   "rpc")
    action: str
    subject: str
    detail: dict[str, Any]
    entry_hash: str


class AuditPage(_Out):
    items: list[AuditOut]
    next_after: int | None = Field(description="pass as `after` for the next page")


class Ok(_Out):
    ok: bool = True
