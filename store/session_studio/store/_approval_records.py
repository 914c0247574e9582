"""Approvals as frozen values: a held request, its decision, and the notifications it makes.

A request over its session's `approve_above` is held (issue 14): its cost is reserved at once
and the exact request waits here. These records are what the store hands out about it; the
payload is opaque to the store (the RPC plane writes it and reads it back to sign).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ApprovalStatus(StrEnum):
    PENDING = "pending"  # held: the cost is reserved, nothing is signed
    APPROVED = "approved"  # signed (and, for a send, handed to the node)
    REJECTED = "rejected"  # by a person, or because its session was revoked: cost released
    EXPIRED = "expired"  # nobody decided in time: cost released


# What an approval event is called in the outbox and the webhook's JSON.
APPROVAL_EVENT_KINDS: Mapping[ApprovalStatus, str] = {
    ApprovalStatus.PENDING: "approval.pending",
    ApprovalStatus.APPROVED: "approval.approved",
    ApprovalStatus.REJECTED: "approval.rejected",
    ApprovalStatus.EXPIRED: "approval.expired",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalDraft:
    """What the RPC plane hands the ledger with a request that may be held.

    Used only if the policy's verdict is "held": the store then reserves the cost, records the
    approval under `id` with `expires_at_ms = now + ttl_ms` (now as judged under the lock)."""

    id: str
    chain_id: int
    unit: str
    summary: str  # the request in words: "transfer 120 USDC to 0xabc... on base"
    detail: Mapping[str, Any]  # decoded fields, for the inbox (JSON-able)
    payload: Mapping[str, Any]  # exactly what is signed on approval (JSON-able)
    ttl_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    id: str
    workspace_id: str
    session_id: str
    key_hash: str
    session_label: str
    agent_name: str | None
    reservation_id: str
    method: str
    chain_id: int
    status: ApprovalStatus
    cost: int  # unit atoms, reserved while pending
    unit: str
    summary: str
    detail: Mapping[str, Any]
    payload: Mapping[str, Any]
    created_at_ms: int
    expires_at_ms: int
    decided_at_ms: int | None = None
    decided_by: str | None = None
    reason: str | None = None
    result: str | None = None  # once approved: the tx hash, raw tx or signature
    error: Mapping[str, Any] | None = None  # once approved: the node's refusal of a send


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalEvent:
    """One notification in the outbox: delivered at least once by any `serve` that claims it."""

    id: int
    approval_id: str
    workspace_id: str
    kind: str
    body: str  # the exact JSON text POSTed (and signed)
    created_at_ms: int
    attempts: int
