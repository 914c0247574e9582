"""Approvals as frozen values: a held request, its decision, and the notifications it makes.

A request over its session's `approve_above` is held (issue 14): its cost is reserved at once
and the exact request waits here. These records are what the store hands out about it; the
payload is opaque to the store (the RPC plane writes it and reads it back to sign).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from session_studio.policy import format_amount

from session_studio.basics import iso


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


def approval_json(approval: Approval) -> dict[str, Any]:
    """An approval as the API, the CLI's `--json` and the webhook show it: money as decimal
    strings, times as ISO 8601 UTC. The payload (what would be signed) is not in it: the
    decoded `detail` says the same in words and figures."""
    return {
        "approval_id": approval.id,
        "status": approval.status.value,
        "key_hash": approval.key_hash,
        "session_label": approval.session_label,
        "agent": approval.agent_name,
        "method": approval.method,
        "chain_id": approval.chain_id,
        "cost": format_amount(approval.cost),
        "unit": approval.unit,
        "summary": approval.summary,
        "detail": dict(approval.detail),
        "created_at": iso(approval.created_at_ms),
        "expires_at": iso(approval.expires_at_ms),
        "decided_at": iso(approval.decided_at_ms),
        "decided_by": approval.decided_by,
        "reason": approval.reason,
        "result": approval.result,
        "error": None if approval.error is None else dict(approval.error),
    }


def approval_event_body(approval: Approval, *, event_id: str) -> str:
    """The outbox row's body: the exact JSON text the webhook POSTs (and signs) for the
    approval's current status. `event_id` lets a receiver drop a redelivery."""
    return json.dumps({"event_id": event_id, "type": APPROVAL_EVENT_KINDS[approval.status],
                       "workspace_id": approval.workspace_id,
                       "approval": approval_json(approval)}, sort_keys=True,
                      separators=(",", ":"))
