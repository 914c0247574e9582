"""RPC plane: JSON-RPC envelope, methods, upstream client, nonces, signing pipeline."""

from ._app import create_rpc_app
from ._context import Caller, ChainRuntime, PriceOracle, RpcPlaneDeps
from ._methods import READ_METHODS
from ._upstream import Upstream

__all__ = [
    "READ_METHODS",
    "Caller",
    "ChainRuntime",
    "PriceOracle",
    "RpcPlaneDeps",
    "Upstream",
    "create_rpc_app",
]
