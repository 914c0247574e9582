"""The Python SDK: `StudioClient` (admin API), `AgentWallet` (agent runtime), typed errors.

    from session_studio import StudioClient, AgentWallet, PolicyDenied

Each client comes as a blocking class and an async twin (`AsyncStudioClient`,
`AsyncAgentWallet`) with the same methods; the blocking one runs the async one on a private
event loop. Errors are drawn in `_errors.py`'s docstring.
"""

from ._agent_config import ENV_VAR, AgentConfig, SessionTerms
from ._approval import Approval, ApprovalStatus
from ._client import AgentCeiling, AsyncStudioClient, StudioClient
from ._errors import (
    ApprovalPending,
    Conflict,
    Forbidden,
    NotFound,
    PolicyDenied,
    RpcError,
    ServerError,
    StudioError,
    Unauthorized,
    ValidationError,
)
from ._limits import Limit
from ._types import (
    AgentInfo,
    Artifact,
    BulkRevokeResult,
    CeilingInfo,
    Event,
    Limits,
    SessionInfo,
    SessionStatus,
    Usage,
)
from ._wallet import AgentWallet, AsyncAgentWallet, WalletSession
from ._web3 import sidecar_async_web3, sidecar_web3

__all__ = [
    "ENV_VAR",
    "AgentCeiling",
    "AgentConfig",
    "AgentInfo",
    "AgentWallet",
    "Approval",
    "ApprovalPending",
    "ApprovalStatus",
    "Artifact",
    "AsyncAgentWallet",
    "AsyncStudioClient",
    "BulkRevokeResult",
    "CeilingInfo",
    "Conflict",
    "Event",
    "Forbidden",
    "Limit",
    "Limits",
    "NotFound",
    "PolicyDenied",
    "RpcError",
    "ServerError",
    "SessionInfo",
    "SessionStatus",
    "SessionTerms",
    "StudioClient",
    "StudioError",
    "Unauthorized",
    "Usage",
    "ValidationError",
    "WalletSession",
    "sidecar_async_web3",
    "sidecar_web3",
]
