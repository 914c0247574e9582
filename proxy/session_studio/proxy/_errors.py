"""Every error the RPC plane answers, as types; one renderer turns them into JSON-RPC objects.

    RpcError                      a JSON-RPC error object {code, message, data?}
    ├── ParseError        -32700  body is not JSON
    ├── InvalidRequest    -32600  not a JSON-RPC 2.0 request (or a batch over the cap)
    ├── MethodNotFound    -32601  geth's wording, so ethers/viem classify it
    ├── InvalidParams     -32602  wrong types, bad hex, out-of-range numbers, unknown fields
    ├── InternalError     -32603  our failure; details go to the log under the request id
    ├── PolicyDenied        4001  "User denied ..." + data.reason (ethers ACTION_REJECTED)
    │   └── ApprovalRequired  4001  held for a person: + data.approval_id, data.expires_at
    ├── Unauthorized        4100  an account the credential does not hold
    ├── UnsupportedMethod   4200  refused by design (eth_sign, raw transactions)
    ├── ChainNotConfigured  4901  the URL names a chain the sidecar does not serve
    └── UpstreamError             the node's own error object, passed through unchanged
"""

from __future__ import annotations

from typing import Any

from session_studio.policy import Decision

from session_studio.basics import iso

from ._node_errors import NodeSays, node_says


class RpcError(Exception):
    code: int = -32603

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(RpcError):
    code = -32700


class InvalidRequest(RpcError):
    code = -32600


class MethodNotFound(RpcError):
    code = -32601

    def __init__(self, method: str) -> None:
        super().__init__(f"the method {method} does not exist/is not available")


class InvalidParams(RpcError):
    code = -32602


class InternalError(RpcError):
    code = -32603


class PolicyDenied(RpcError):
    code = 4001

    def __init__(self, decision: Decision) -> None:
        assert decision.reason is not None
        super().__init__(
            f"User denied the request: {decision.detail}",
            {"reason": decision.reason.value, "detail": decision.detail, **decision.figures},
        )
        self.decision = decision


class ApprovalRequired(PolicyDenied):
    """Held, not refused: the request passed every check and waits for a person (issue 14).

    Still 4001 with "User denied" (a client that knows nothing of approvals sees a refusal
    and does not retry blindly), and `data` says how to follow it: `approval_id` for
    `studio_getApproval`, and when it expires."""

    def __init__(self, decision: Decision, *, approval_id: str, expires_at_ms: int) -> None:
        super().__init__(decision)
        assert isinstance(self.data, dict)
        self.data["approval_id"] = approval_id
        self.data["expires_at"] = iso(expires_at_ms)


class Unauthorized(RpcError):
    code = 4100


class UnsupportedMethod(RpcError):
    code = 4200


class ChainNotConfigured(RpcError):
    code = 4901


class UpstreamError(RpcError):
    """The upstream node answered with an error object: hand it to the client as it is.

    What an answer to eth_sendRawTransaction means is read from the one table of node
    wordings (`_node_errors.py`), for every client the sidecar may sit in front of."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", "upstream error")), error.get("data"))
        self.error = error

    @property
    def already_known(self) -> bool:
        """Not a refusal: the node has this very transaction, which may land."""
        return node_says(self.message) is NodeSays.ALREADY_KNOWN

    @property
    def stale_nonce(self) -> bool:
        """The nonce is used on chain (by this transaction or another): never hand it out."""
        return node_says(self.message) is NodeSays.NONCE_USED

    def to_json(self) -> dict[str, Any]:
        return dict(self.error)


class UpstreamUnavailable(InternalError):
    """The node did not answer (timeout, connection refused, garbage)."""
