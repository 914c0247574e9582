"""web3.py clients bound to one credential through the sidecar, raising the SDK's errors.

The providers differ from web3's own in three ways, each for a reason:
- the credential travels in the `Authorization` header (never in the URL, which proxies log);
- HTTP 401 (missing, unknown or revoked credential) becomes `Unauthorized` at once: web3's
  default retry configuration treats any HTTP error as transient and would retry it five
  times with backoff, and would then surface a bare `requests.HTTPError`;
- a JSON-RPC 4001 becomes `PolicyDenied` (still a `Web3RPCError`) and 4100 `Unauthorized`,
  so callers can branch on `reason` instead of parsing messages. Every other error is left
  to web3.py exactly as it handles it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import requests
from eth_typing import ChecksumAddress
from web3 import AsyncHTTPProvider, AsyncWeb3, HTTPProvider, Web3
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse

from ._errors import POLICY_DENIED, UNAUTHORIZED, Unauthorized, raise_for_rpc_error

DEFAULT_TIMEOUT_S = 60


def _headers(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", "Content-Type": "application/json",
            "User-Agent": "session-studio-sdk"}


def _raise_typed(response: RPCResponse) -> None:
    error = response.get("error")
    if isinstance(error, dict) and error.get("code") in (POLICY_DENIED, UNAUTHORIZED):
        raise_for_rpc_error(response)


class SidecarHTTPProvider(HTTPProvider):
    """`HTTPProvider` for one credential; see the module docstring."""

    def __init__(self, rpc_url: str, credential: str, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(
            rpc_url,
            request_kwargs={"headers": _headers(credential), "timeout": timeout_s},
            exception_retry_configuration=ExceptionRetryConfiguration(
                errors=(requests.ConnectionError, requests.Timeout)))

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            response = super().make_request(method, params)
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 401:
                raise Unauthorized("the sidecar refused the credential (HTTP 401): it is "
                                   "missing, unknown or revoked", code=str(UNAUTHORIZED),
                                   status=401) from None
            raise
        _raise_typed(response)
        return response


class SidecarAsyncHTTPProvider(AsyncHTTPProvider):
    """`AsyncHTTPProvider` for one credential; see the module docstring."""

    def __init__(self, rpc_url: str, credential: str, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(
            rpc_url,
            request_kwargs={"headers": _headers(credential),
                            "timeout": aiohttp.ClientTimeout(total=timeout_s)},
            exception_retry_configuration=ExceptionRetryConfiguration(
                errors=(aiohttp.ClientConnectionError, TimeoutError)))

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            response = await super().make_request(method, params)
        except aiohttp.ClientResponseError as exc:
            if exc.status == 401:
                raise Unauthorized("the sidecar refused the credential (HTTP 401): it is "
                                   "missing, unknown or revoked", code=str(UNAUTHORIZED),
                                   status=401) from None
            raise
        _raise_typed(response)
        return response


def sidecar_web3(rpc_url: str, credential: str, *,
                 account: ChecksumAddress | str | None = None) -> Web3:
    """A `Web3` that signs through the sidecar; `account` becomes `eth.default_account`, so
    `transact()` and `send_transaction` need no `from`."""
    w3 = Web3(SidecarHTTPProvider(rpc_url, credential))
    if account is not None:
        w3.eth.default_account = Web3.to_checksum_address(account)
    return w3


def sidecar_async_web3(rpc_url: str, credential: str, *,
                       account: ChecksumAddress | str | None = None) -> AsyncWeb3[Any]:
    """`AsyncWeb3` twin of `sidecar_web3`. Use it on one event loop; close it with
    `await w3.provider.disconnect()` when done."""
    w3: AsyncWeb3[Any] = AsyncWeb3(SidecarAsyncHTTPProvider(rpc_url, credential))
    if account is not None:
        w3.eth.default_account = Web3.to_checksum_address(account)
    return w3
