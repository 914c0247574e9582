"""The chain's upstream JSON-RPC endpoint: one pooled HTTP client per chain.

Errors are split by what they prove: an error *object* from the node means the node answered
(and, for a send, refused); a transport failure proves nothing, so callers must treat the
outcome as unknown.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import aiohttp

from session_studio.basics import dump_json

from ._errors import UpstreamError, UpstreamUnavailable
from ._observer import NullObserver, RpcObserver

_JSON_HEADERS = {"Content-Type": "application/json"}


class Upstream:
    def __init__(self, url: str, *, timeout_s: float, chain_id: int = 0,
                 observer: RpcObserver | None = None) -> None:
        self.url = url
        self._chain_id = chain_id
        self._observer = observer or NullObserver()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, params: list[Any]) -> Any:
        """The result, or UpstreamError (node's error object) / UpstreamUnavailable."""
        started = time.perf_counter()
        ok = False
        try:
            result = await self._call(method, params)
            ok = True
            return result
        finally:
            self._observer.upstream(self._chain_id, method, time.perf_counter() - started, ok)

    async def _call(self, method: str, params: list[Any]) -> Any:
        if self._session is None:
            raise UpstreamUnavailable("upstream client is not started")
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            async with self._session.post(self.url, data=dump_json(body),
                                          headers=_JSON_HEADERS) as response:
                text = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise UpstreamUnavailable(f"upstream did not answer ({type(exc).__name__})") from exc
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise UpstreamUnavailable("upstream answered with invalid JSON") from exc
        if not isinstance(payload, dict):
            raise UpstreamUnavailable("upstream answered with a non-object")
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            raise UpstreamError(error)
        if "result" not in payload:
            raise UpstreamUnavailable("upstream answer has neither result nor error")
        return payload["result"]


def upstream_quantity(value: Any, what: str) -> int:
    """A number from the upstream; a malformed one is upstream doubt, so nothing is signed."""
    try:
        number = int(value, 16) if isinstance(value, str) else None
    except ValueError:
        number = None
    if number is None or number < 0:
        raise UpstreamUnavailable(f"upstream returned a malformed {what}")
    return number
