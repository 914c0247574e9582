"""The SDK's exceptions: one type per way a call can fail, whichever plane answered.

    StudioError(message, code, status)        base: catch this to catch everything below
    ├── PolicyDenied(reason, detail, data)    JSON-RPC 4001: the session's policy refused;
    │   │                                     also a web3 `Web3RPCError`, so generic web3 code
    │   │                                     still sees `rpc_response` with code and data
    │   └── ApprovalPending(approval_id,      4001 `approval_required`: held for a person's
    │                       expires_at)       approval, not refused; nothing signed yet
    ├── Unauthorized                          HTTP 401 / JSON-RPC 4100: credential or token
    │                                         missing, unknown, revoked, or `from` not yours
    ├── Forbidden                             HTTP 403: authenticated but not allowed (scope,
    │                                         `passkey_required` for app sessions)
    ├── NotFound                              HTTP 404: no such session in your workspace
    ├── Conflict                              HTTP 409: the state forbids it (already revoked)
    ├── ValidationError(field)                HTTP 422: a bad argument; `field` names it
    └── RpcError(code, data)                  any other JSON-RPC error (-326xx, 4200, 4901...)
        or ServerError                        HTTP 5xx or an answer that is not the API's shape

`code` is machine-readable: the admin API's error code (`not_found`, `validation_error`,
`passkey_required`, ...), or the JSON-RPC code as a string (`"4001"`). `status` is the HTTP
status when an HTTP answer carried the error.
"""

from __future__ import annotations

from typing import Any

from web3.exceptions import Web3RPCError
from web3.types import RPCResponse

POLICY_DENIED = 4001
UNAUTHORIZED = 4100
APPROVAL_REQUIRED = "approval_required"
# Not the server's reason codes: the SDK's, for a held request that was decided against.
APPROVAL_REJECTED = "approval_rejected"
APPROVAL_EXPIRED = "approval_expired"


class StudioError(Exception):
    """Every error the SDK raises on purpose."""

    def __init__(self, message: str, *, code: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


class Unauthorized(StudioError):
    """The credential (RPC plane) or admin API token was refused: fix configuration, do not
    retry."""


class Forbidden(StudioError):
    """Authenticated, but this caller may not do this. `code` says why: `insufficient_scope`,
    or `passkey_required` (an app session's credential, at creation, export or rotation, goes
    only to a person with a passkey)."""


class NotFound(StudioError):
    """No such resource in the caller's workspace (other workspaces' sessions are invisible)."""


class Conflict(StudioError):
    """The resource's state forbids the operation, e.g. revoking a session twice."""


class ValidationError(StudioError):
    """An argument the server (or the SDK, before sending) refused; `field` names it."""

    def __init__(self, message: str, *, field: str | None, code: str | None = "validation_error",
                 status: int | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


class ServerError(StudioError):
    """The server failed (5xx) or answered something that is not the API's shape."""


class RpcError(StudioError):
    """A JSON-RPC error that is neither a policy denial nor an authorisation failure."""

    def __init__(self, message: str, *, rpc_code: int, data: Any = None) -> None:
        super().__init__(message, code=str(rpc_code))
        self.rpc_code = rpc_code
        self.data = data


class PolicyDenied(StudioError, Web3RPCError):
    """The sidecar's policy refused the request (JSON-RPC 4001).

    `reason` is a reason code of CONTRACT.md (`per_tx_limit_exceeded`, `ceiling_exceeded`,
    `agent_budget_exceeded`, ...), `detail` the human sentence, `data` the whole error data
    with its figures (`unit`, `cost`, `per_tx_limit`, ... as decimal strings). It is also a
    `web3.exceptions.Web3RPCError` carrying the raw `rpc_response`, so code written for plain
    web3.py keeps catching it.
    """

    def __init__(self, reason: str, detail: str, *, message: str | None = None,
                 data: dict[str, Any] | None = None,
                 rpc_response: RPCResponse | None = None) -> None:
        text = message or f"User denied the request: {detail}"
        StudioError.__init__(self, text, code=str(POLICY_DENIED))
        self.rpc_response = rpc_response
        self.user_message = None
        self.reason = reason
        self.detail = detail
        self.data: dict[str, Any] = dict(data or {})

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class ApprovalPending(PolicyDenied):
    """The request costs more than the session's `approve_above`: the sidecar holds it for a
    person to approve (CLI, or the Studio page with a passkey) instead of signing it.

    Nothing is signed yet, but its cost is reserved in the spend window until it is decided.
    `approval_id` is what `get_approval()` / `wait_for_approval()` take; `expires_at` (ISO
    8601 UTC) is when it expires undecided. A `PolicyDenied` with `reason ==
    "approval_required"`, so code that only knows refusals still stops here.

    The SDK adds two reasons of its own for a held request that was decided against:
    `approval_rejected` (a person rejected it, or its session was revoked) and
    `approval_expired` (nobody decided in time); both are plain `PolicyDenied`.
    """

    def __init__(self, approval_id: str, detail: str, *, expires_at: str | None = None,
                 message: str | None = None, data: dict[str, Any] | None = None,
                 rpc_response: RPCResponse | None = None) -> None:
        super().__init__(APPROVAL_REQUIRED, detail, message=message, data=data,
                         rpc_response=rpc_response)
        self.approval_id = approval_id
        self.expires_at = expires_at


def raise_for_rpc_error(response: RPCResponse | dict[str, Any]) -> None:
    """Turn a JSON-RPC answer's `error` into the SDK's type for it; no error, no raise."""
    error = response.get("error")
    if error is None:
        return
    if not isinstance(error, dict):
        raise ServerError(f"malformed JSON-RPC error: {error!r}")
    code, message, data = error.get("code"), str(error.get("message", "")), error.get("data")
    if code == POLICY_DENIED:
        fields = data if isinstance(data, dict) else {}
        held = fields.get("approval_id")
        if fields.get("reason") == APPROVAL_REQUIRED and isinstance(held, str) and held:
            expires_at = fields.get("expires_at")
            raise ApprovalPending(held, str(fields.get("detail", message)),
                                  expires_at=expires_at if isinstance(expires_at, str) else None,
                                  message=message, data=fields,
                                  rpc_response=response)  # type: ignore[arg-type]
        raise PolicyDenied(str(fields.get("reason", "unknown")),
                           str(fields.get("detail", message)), message=message, data=fields,
                           rpc_response=response)  # type: ignore[arg-type]
    if code == UNAUTHORIZED:
        raise Unauthorized(message, code=str(code))
    if not isinstance(code, int):
        raise ServerError(f"malformed JSON-RPC error: {error!r}")
    raise RpcError(message, rpc_code=code, data=data)


_BY_STATUS: dict[int, type[StudioError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound,
                                            409: Conflict}


def api_error(status: int, body: Any) -> StudioError:
    """The exception for an admin API error answer `{"error": {code, message, field?}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ServerError(f"HTTP {status}: {str(body)[:200]}", status=status)
    code, message = str(error.get("code", "")), str(error.get("message", ""))
    if status in (400, 413, 422):
        field = error.get("field")
        return ValidationError(message, field=field if isinstance(field, str) else None,
                               code=code, status=status)
    kind = _BY_STATUS.get(status, ServerError)
    return kind(message, code=code, status=status)
