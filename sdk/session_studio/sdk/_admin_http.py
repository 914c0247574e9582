"""The admin API over HTTP: one aiohttp session, bearer token, errors mapped to types."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from ._errors import ServerError, api_error

API_PREFIX = "/api/v1"


def api_base(admin_url: str) -> str:
    """`http://host:8646` or `http://host:8646/api/v1` -> the API's base URL."""
    base = admin_url.rstrip("/")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX


class AdminTransport:
    """Sends requests to `/api/v1` with the admin API token; made on the loop that uses it."""

    def __init__(self, admin_url: str, token: str, *, timeout_s: float = 30) -> None:
        self._base = api_base(admin_url)
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the loop that will use it.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._token}",
                         "User-Agent": "session-studio-sdk"})
        return self._session

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: dict[str, Any] | None = None) -> Any:
        async with self._client().request(method, self._base + path, params=params,
                                          json=body) as response:
            text = await response.text()
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        if response.status >= 400:
            raise api_error(response.status, parsed)
        if parsed is None or isinstance(parsed, str):
            raise ServerError(f"HTTP {response.status}: not JSON: {text[:200]}",
                              status=response.status)
        return parsed

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
