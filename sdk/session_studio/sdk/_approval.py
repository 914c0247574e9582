"""Approvals as the SDK sees them: a held request (issue 14) and what became of it.

A request costing more than its session's `approve_above` is not signed: the sidecar holds it
and answers 4001 `approval_required` with an `approval_id` (`ApprovalPending`). A person then
approves it (CLI, or the Studio page with a passkey) or rejects it, or it expires. Both planes
describe it with one JSON shape: `studio_getApproval` (RPC, the agent's credential) answers a
subset of the admin API's approval, so the fields only the admin API shows are optional here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from web3.exceptions import Web3RPCError

from ._errors import APPROVAL_EXPIRED, APPROVAL_REJECTED, PolicyDenied, ServerError

ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]
STATUSES: frozenset[str] = frozenset({"pending", "approved", "rejected", "expired"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """One held request. `result` is set once approved: what the held method returns (the tx
    hash for a send, the raw transaction for `eth_signTransaction`, the signature for a message
    or typed data). `error` ({code, message}) is set when the request was approved and signed
    but the node refused the send. `reason` says why it was rejected or expired.

    Times are ISO 8601 UTC strings and `cost` an exact `Decimal` in `unit`, as elsewhere in
    the SDK. `raw` is the JSON the server sent, so a field a later server adds is readable
    without an SDK upgrade.
    """

    approval_id: str
    status: ApprovalStatus
    expires_at: str
    result: str | None = None
    reason: str | None = None
    error: Mapping[str, Any] | None = None
    # Only in the admin API's answers (`StudioClient`):
    key_hash: str | None = None
    session_label: str | None = None
    agent: str | None = None
    method: str | None = None
    chain_id: int | None = None
    cost: Decimal | None = None
    unit: str | None = None
    summary: str | None = None
    detail: Mapping[str, Any] | None = None
    created_at: str | None = None
    decided_at: str | None = None
    decided_by: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def decided(self) -> bool:
        """Approved, rejected or expired: its status will not change again."""
        return self.status != "pending"

    @classmethod
    def from_json(cls, body: Any) -> Approval:
        """An approval from either plane's JSON; `ServerError` if it is not that shape (a
        server that answers garbage must not look like a pending approval)."""
        if not isinstance(body, dict):
            raise ServerError(f"an approval must be a JSON object, not {str(body)[:200]}")
        approval_id, status = body.get("approval_id"), body.get("status")
        expires_at = body.get("expires_at")
        if not isinstance(approval_id, str) or not approval_id or status not in STATUSES \
                or not isinstance(expires_at, str):
            raise ServerError(f"not an approval: {str(body)[:200]}")
        error = body.get("error")
        detail = body.get("detail")
        return cls(approval_id=approval_id, status=cast(ApprovalStatus, status),
                   expires_at=expires_at, result=_text(body, "result"),
                   reason=_text(body, "reason"),
                   error=dict(error) if isinstance(error, dict) else None,
                   key_hash=_text(body, "key_hash"), session_label=_text(body, "session_label"),
                   agent=_text(body, "agent"), method=_text(body, "method"),
                   chain_id=_int(body, "chain_id"), cost=_decimal(body, "cost"),
                   unit=_text(body, "unit"), summary=_text(body, "summary"),
                   detail=dict(detail) if isinstance(detail, dict) else None,
                   created_at=_text(body, "created_at"), decided_at=_text(body, "decided_at"),
                   decided_by=_text(body, "decided_by"), raw=dict(body))


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ServerError(f"approval {name}: expected a string, got {value!r}")


def _int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ServerError(f"approval {name}: expected an integer, got {value!r}")


def _decimal(body: Mapping[str, Any], name: str) -> Decimal | None:
    # Money travels as a decimal string; a float here would already have lost exactness.
    value = body.get(name)
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return Decimal(value)
    except InvalidOperation:
        pass
    raise ServerError(f"approval {name}: expected a decimal string, got {value!r}")


def decided_against(approval: Approval, *, held: Mapping[str, Any] | None = None
                    ) -> Exception | None:
    """What a waiting caller raises for a decided approval, or None when it was approved and
    signed (then `result` is the method's answer).

    A rejection or expiry is a `PolicyDenied` with the SDK's reasons `approval_rejected` /
    `approval_expired`; an approved send the node refused is the `Web3RPCError` web3.py raises
    when a node refuses an unheld send, so callers handle a refusal one way whether or not a
    person was in the loop. `held` is the original hold's error data, kept for its figures.
    """
    if approval.status == "approved":
        if approval.error is not None:
            response = {"jsonrpc": "2.0", "id": 0, "error": dict(approval.error)}
            return Web3RPCError(repr(dict(approval.error)),
                                rpc_response=response)  # type: ignore[arg-type]
        if approval.result is None:
            return ServerError(f"approval {approval.approval_id} is approved without a result")
        return None
    if approval.status == "pending":
        raise ValueError("a pending approval is not decided")
    reason = APPROVAL_REJECTED if approval.status == "rejected" else APPROVAL_EXPIRED
    what = "was rejected" if approval.status == "rejected" else "expired undecided"
    detail = f"approval {approval.approval_id} {what}" + (
        f": {approval.reason}" if approval.reason else "")
    data = {**(held or {}), "reason": reason, "detail": detail,
            "approval_id": approval.approval_id, "status": approval.status}
    return PolicyDenied(reason, detail, data=data)
