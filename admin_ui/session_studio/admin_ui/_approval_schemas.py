"""The approvals' shapes in the admin API (see `_schemas.py` for the conventions)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ._schemas import ChainId, Timestamp, _In, _Out

ApprovalStatusName = Literal["pending", "approved", "rejected", "expired"]


class ApprovalQuery(_In):
    status: ApprovalStatusName | Literal["decided"] | None = Field(
        default=None, description="one status, or `decided` for every one no longer pending")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Annotated[str, StringConstraints(max_length=100)] | None = None


class ApprovalDecision(_In):
    reason: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="why; kept with the approval and in the audit trail")


class ApprovalOut(_Out):
    approval_id: str
    status: ApprovalStatusName
    key_hash: str
    session_label: str
    agent: str | None
    method: str
    chain_id: ChainId
    cost: str = Field(description="reserved while pending, in `unit` (decimal string)")
    unit: str
    summary: str = Field(description="what the request does, in words")
    detail: dict[str, Any] = Field(description="the decoded request: intents, fields")
    created_at: Timestamp
    expires_at: Timestamp
    decided_at: Timestamp | None
    decided_by: str | None
    reason: str | None
    result: str | None = Field(description="once approved: the tx hash of a send, the raw "
                                           "transaction, or the signature")
    error: dict[str, Any] | None = Field(description="the node's refusal of an approved send")


class ApprovalPageOut(_Out):
    items: list[ApprovalOut]
    next_cursor: str | None


class PendingCount(_Out):
    pending: int
