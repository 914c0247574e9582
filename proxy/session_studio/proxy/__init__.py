"""RPC plane: JSON-RPC envelope, methods, upstream client, nonces, signing pipeline."""

from ._app import create_rpc_app
from ._approvals import ApprovalSigner
from ._context import Caller, ChainRuntime, PriceOracle, RpcPlaneDeps
from ._errors import RpcError
from ._fees import FeeCache
from ._methods import READ_METHODS, SIGNING_AND_LOCAL_METHODS
from ._observer import NullObserver, RpcObserver
from ._recovery import unbroadcast_grace_ms
from ._self_service import (
    STUDIO_METHODS,
    AgentSelfService,
    SelfServiceInvalid,
    SelfServiceRefused,
)
from ._upstream import Upstream

__all__ = [
    "READ_METHODS",
    "SIGNING_AND_LOCAL_METHODS",
    "STUDIO_METHODS",
    "AgentSelfService",
    "ApprovalSigner",
    "Caller",
    "ChainRuntime",
    "FeeCache",
    "NullObserver",
    "PriceOracle",
    "RpcError",
    "RpcObserver",
    "RpcPlaneDeps",
    "SelfServiceInvalid",
    "SelfServiceRefused",
    "Upstream",
    "create_rpc_app",
    "unbroadcast_grace_ms",
]
