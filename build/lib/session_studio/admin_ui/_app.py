"""The admin plane's aiohttp application: JSON API, OpenAPI document, web page, static files.

It runs on its own listener (never the RPC port) and receives its dependencies from the
composition root as one `AdminDeps` value.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from ._api import AdminApi, AdminDeps
from ._errors import ApiError
from ._openapi import build_openapi
from ._operations import COOKIE, error_response, mount
from ._pages import add_pages
from ._principal import Principal

log = logging.getLogger("session_studio.admin")
API = "/api/v1"
STATIC = Path(__file__).parent / "static"
# The page loads nothing from elsewhere (no CDN) and runs only its own script files.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def create_admin_app(deps: AdminDeps, *, version: str) -> web.Application:
    app = web.Application(middlewares=[_security_headers, _no_tracebacks],
                          client_max_size=1024 * 1024)
    api = AdminApi(deps)
    operations = api.operations()
    document = build_openapi(operations, version=version, prefix=API)

    async def authenticate(request: web.Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            return await deps.accounts.resolve_bearer(secret.strip())
        cookie = request.cookies.get(COOKIE)
        return None if cookie is None else await deps.accounts.resolve_cookie(cookie)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get(API + "/openapi.json", openapi)
    mount(app, API, operations, authenticate=authenticate, check_csrf=deps.accounts.csrf_ok)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", STATIC, append_version=True)
    add_pages(app, deps, api, authenticate=authenticate)
    return app


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        # Pages and API answers carry credentials and session data: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def _no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown API paths answer JSON; an unexpected error is logged and answered 500 with a
    generic body, never a traceback (which could carry request data)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if request.path.startswith(API) and exc.status >= 400:
            return error_response(ApiError(exc.status, "not_found" if exc.status == 404
                                           else "http_error", exc.reason))
        raise
    except Exception:
        log.exception("admin plane: unexpected error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal", "internal error; see the server log"))
