"""The server-rendered Session Studio page (placeholder until the page lands)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ._api import AdminApi, AdminDeps
    from ._principal import Principal


def add_pages(app: web.Application, deps: AdminDeps, api: AdminApi, *,
              authenticate: Callable[[web.Request], Awaitable[Principal | None]]) -> None:
    async def index(_request: web.Request) -> web.Response:
        return web.Response(text="Session Studio", content_type="text/plain")

    app.router.add_get("/", index)
