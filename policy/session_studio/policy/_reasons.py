"""Closed vocabularies shared by the decision engine and every plane that reports its decisions.

They are string enums so a reason travels unchanged from the engine into a JSON-RPC error's
`data.reason`, a metric label and the audit trail: one spelling, defined once (CONTRACT.md).
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a request was refused; the `data.reason` of a 4001 error."""

    PERMISSION_DENIED = "permission_denied"
    CHAIN_NOT_IN_SCOPE = "chain_not_in_scope"
    TOKEN_NOT_ALLOWED = "token_not_allowed"
    RECIPIENT_NOT_ALLOWED = "recipient_not_allowed"
    CONTRACT_NOT_ALLOWED = "contract_not_allowed"
    PER_TX_LIMIT_EXCEEDED = "per_tx_limit_exceeded"
    DAILY_LIMIT_EXCEEDED = "daily_limit_exceeded"
    AGENT_BUDGET_EXCEEDED = "agent_budget_exceeded"
    SESSION_EXPIRED = "session_expired"
    SESSION_REVOKED = "session_revoked"
    UNPRICEABLE_ASSET = "unpriceable_asset"
    UNDECODABLE_REQUEST = "undecodable_request"
    GAS_PRICE_TOO_HIGH = "gas_price_too_high"
    RATE_LIMITED = "rate_limited"
    # Not a refusal of the request but of signing it now: it passed every check, costs more
    # than the session's `approve_above`, and waits, reserved, for a person (issue 14).
    APPROVAL_REQUIRED = "approval_required"


class Permission(StrEnum):
    """What a session may do (POLICY.md, "Permissions"); anything not granted is denied."""

    TRANSFER = "transfer"
    APPROVE = "approve"
    SWAP = "swap"
    CONTRACT_CALL = "contract_call"
    SIGN_MESSAGE = "sign_message"  # personal_sign of any length but 32 bytes
    SIGN_DIGEST = "sign_digest"  # personal_sign of exactly 32 bytes: possibly a hash
    SIGN_TYPED_DATA = "sign_typed_data"
