"""Session Studio: a policy-enforcing signing sidecar for Ethereum-compatible chains.

The public Python surface (SDK, typed errors) is re-exported here; everything in underscore
modules and in the planes (`session_studio.proxy`, `.policy`, ...) is internal.

The SDK names are loaded on first use (PEP 562 `__getattr__`): the SDK imports web3.py, which
takes most of a second, and `import session_studio` also runs for every CLI command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AgentWallet",
    "ApprovalPending",
    "AsyncAgentWallet",
    "AsyncStudioClient",
    "Conflict",
    "Forbidden",
    "Limit",
    "NotFound",
    "PolicyDenied",
    "RpcError",
    "ServerError",
    "StudioClient",
    "StudioError",
    "Unauthorized",
    "ValidationError",
    "__version__",
]
_SDK_NAMES = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from session_studio.sdk import (
        AgentWallet,
        ApprovalPending,
        AsyncAgentWallet,
        AsyncStudioClient,
        Conflict,
        Forbidden,
        Limit,
        NotFound,
        PolicyDenied,
        RpcError,
        ServerError,
        StudioClient,
        StudioError,
        Unauthorized,
        ValidationError,
    )


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        from session_studio import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'session_studio' has no attribute {name!r}")
