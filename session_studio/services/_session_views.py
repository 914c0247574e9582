"""What the session service answers with: typed, frozen records, not dictionaries.

`SessionView` is a session as operators see it (CONTRACT.md, "A session as JSON") and
`SessionArtifact` what a client needs to use one (credential included, never key bytes). Both
share `SessionTerms`, who the session is and what it may do. Each transport renders them its
own way: the admin API maps them to its pydantic models in one place, the CLI and the RPC plane
print `as_json()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from session_studio.policy import Permission
from session_studio.store import SessionStatus, SessionType


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Decimal text in the limit unit (`format_amount`), as every door shows it."""

    unit: str
    per_tx: str
    daily: str
    # A request costing more waits for a person (None: none ever does). Part of the limits so
    # an agent runtime initialised from the artifact knows which payments will be held.
    approve_above: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTerms:
    key_hash: str
    address: str
    type: SessionType
    label: str
    agent: str | None
    permissions: tuple[Permission, ...]
    chain_ids: tuple[int, ...]
    tokens: tuple[str, ...]
    limits: Limits
    expires_at: str | None  # ISO 8601, UTC
    recipients: tuple[str, ...] | None  # None: any address
    contracts: Mapping[str, tuple[str, ...] | None]  # address -> selectors (None: any)
    rate_limit_per_minute: int | None
    max_fee_per_gas: str | None  # wei, as decimal text

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values, keys in declaration order (what the CLI and RPC plane print)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionArtifact(SessionTerms):
    """The provisioning artifact: everything a client needs, credential included."""

    credential: str
    rpc_url: str  # of the first chain
    rpc_urls: Mapping[str, str]  # chain id (text) -> URL
    token_addresses: Mapping[str, Mapping[str, str]]  # chain id -> symbol -> ERC-20 address
    native_symbols: Mapping[str, str]  # chain id -> native coin


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionView(SessionTerms):
    """A session with its state now: status, spend in the window, usage, health badges."""

    status: SessionStatus
    spent_in_window: str
    created_at: str | None
    last_used_at: str | None
    request_count: int
    health: tuple[str, ...]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Limits):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
