"""Plumbing shared by every page: templates, the login guard, CSRF on forms, and calling the
admin API's own handlers.

Pages never talk to the service or the store for sessions, agents or tokens: they build the same
validated `Call` an API request would and run the API's handler, so a page and `/api/v1` apply
the same validation, workspace isolation and step-up rules and cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from pydantic import BaseModel
from session_studio.store import Conflict, NotFound, StoreUnavailable

from ._api import AdminApi, AdminDeps
from ._errors import ApiError
from ._operations import Call, Handler
from ._principal import Principal

TEMPLATES = Path(__file__).parent / "templates"
CSRF_FIELD = "csrf"
Model = TypeVar("Model", bound=BaseModel)
Authenticate = Callable[[web.Request], Awaitable[Principal | None]]
PageHandler = Callable[[web.Request, Principal], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Notices travel in the redirect's query string as codes, never as text, so a crafted link
# cannot make the page say something the server did not.
NOTICES: Mapping[str, str] = {
    "revoked": "Session revoked: it can no longer sign.",
    "bulk_revoked": "Revoked {count} session(s).",
    "token_revoked": "Token revoked: it no longer opens the API.",
}


class CsrfRejected(Exception):
    """A form arrived without this login's CSRF token (a forged or stale page)."""


def when(value: str | None) -> str:
    """`2026-05-01T12:00:00Z` -> `2026-05-01 12:00 UTC`; None -> an em dash."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def amount(value: str) -> str:
    """A money string cut to 6 decimal places for reading, rounded up so that a shown spend
    never understates; the exact figure stays in the API and in the element's title."""
    try:
        exact = Decimal(value)
    except InvalidOperation:
        return value
    return format(exact.quantize(Decimal("0.000001"), rounding=ROUND_UP).normalize(), "f")


def percent(ratio: str) -> str:
    """`0.1234` -> `12.3%`."""
    try:
        return f"{float(ratio) * 100:.1f}%"
    except ValueError:
        return ratio


# A path on this site, in printable ASCII without a backslash, not starting "//". Browsers
# drop tabs and newlines anywhere in a URL and read "\\" as "/" (WHATWG URL parser), so
# "/\t/evil.example" or "/\\evil.example" would leave the site as "//evil.example": any
# character outside this set sends the login to the inventory instead.
_SAME_ORIGIN_PATH = re.compile(r"/(?!/)[!#-\[\]-~]*")


def safe_next(target: str | None) -> str:
    """Only a path on this site may follow a login: never `//evil.example` or a full URL."""
    if target and _SAME_ORIGIN_PATH.fullmatch(target):
        return target
    return "/sessions"


def _environment(static_urls: Mapping[str, str]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["percent"] = percent
    env.filters["amount"] = amount
    env.globals["static"] = static_urls
    return env


def static_urls(app: web.Application, names: tuple[str, ...]) -> dict[str, str]:
    """Versioned URLs (`?v=<hash>`) of our own assets, so a new release is never cached stale."""
    for resource in app.router.resources():
        if isinstance(resource, web.StaticResource) and resource.canonical == "/static":
            return {name: str(resource.url_for(filename=name, append_version=True))
                    for name in names}
    return {name: f"/static/{name}" for name in names}


@dataclass(frozen=True, slots=True)
class PageKit:
    deps: AdminDeps
    api: AdminApi
    env: jinja2.Environment
    authenticate: Authenticate

    @classmethod
    def create(cls, deps: AdminDeps, api: AdminApi, authenticate: Authenticate,
               assets: Mapping[str, str]) -> PageKit:
        return cls(deps=deps, api=api, env=_environment(assets), authenticate=authenticate)

    # -- rendering -------------------------------------------------------------------------
    async def render(self, template: str, *, principal: Principal | None, status: int = 200,
                     **context: Any) -> web.Response:
        shell: dict[str, Any] = {"me": None, "csrf": "", "workspace": "",
                                 "pending_approvals": 0}
        if principal is not None:
            ws = await self.deps.service.workspace_by_id(principal.workspace_id)
            # The nav's badge: every page says how many requests wait for a person.
            shell = {"me": principal.actor_name, "workspace": ws.name,
                     "csrf": self.deps.accounts.csrf_token(principal),
                     "pending_approvals": await self.deps.approvals.pending_count(ws.id)}
        html = self.env.get_template(template).render(**shell, **context)
        return web.Response(text=html, content_type="text/html", status=status)

    async def problem(self, status: int, title: str, message: str, *,
                      principal: Principal | None) -> web.Response:
        return await self.render("error.html", principal=principal, status=status,
                                 title=title, message=message)

    # -- the guard -------------------------------------------------------------------------
    def page(self, handler: PageHandler) -> RouteHandler:
        """A route for logged-in people: others go to /login and come back afterwards.

        Store errors a handler does not answer itself become a page with the right status
        (404, 409, 503), never a 500: a bad link or a race must not look like a crash.
        """

        async def route(request: web.Request) -> web.StreamResponse:
            principal = await self.authenticate(request)
            if principal is None or principal.login_hash is None:
                if request.method != "GET":
                    return await self.problem(401, "Logged out", "Your login ended. Log in "
                                              "again and repeat the action.", principal=None)
                raise web.HTTPSeeOther("/login?next=" + quote(request.path_qs, safe=""))
            try:
                return await handler(request, principal)
            except CsrfRejected:
                return await self.problem(403, "Form expired", "This form came from an older "
                                          "page or another site. Reload the page and try "
                                          "again.", principal=principal)
            except NotFound as exc:
                return await self.problem(404, "Not found", str(exc), principal=principal)
            except Conflict as exc:
                return await self.problem(409, "Not possible", str(exc), principal=principal)
            except StoreUnavailable:
                return await self.problem(503, "Database unavailable", "The database is "
                                          "unavailable; try again shortly.", principal=principal)
            except ApiError as exc:
                title = "Not found" if exc.status == 404 else "Not possible"
                return await self.problem(exc.status, title, exc.message, principal=principal)

        return route

    async def form(self, request: web.Request, principal: Principal) -> MultiDictProxy[str]:
        """The posted fields, after checking the login's CSRF token (raises `CsrfRejected`)."""
        posted = await request.post()
        token = posted.get(CSRF_FIELD)
        if not isinstance(token, str) or not self.deps.accounts.csrf_ok(principal, token):
            raise CsrfRejected()
        return MultiDictProxy(_texts(posted))

    # -- the API's handlers ----------------------------------------------------------------
    async def invoke(self, handler: Handler, request: web.Request, principal: Principal,
                     expect: type[Model], *, path: Mapping[str, str] | None = None,
                     query: BaseModel | None = None, body: BaseModel | None = None) -> Model:
        result = await handler(Call(request=request, principal=principal,
                                    path=dict(path or {}), query=query, body=body))
        assert isinstance(result, expect), f"{handler} answered {type(result).__name__}"
        return result


def _texts(posted: MultiDictProxy[Any]) -> MultiDict[str]:
    """Form fields as text only: an uploaded file where text belongs is simply absent."""
    out: MultiDict[str] = MultiDict()
    for key, value in posted.items():
        if isinstance(value, str):
            out.add(key, value)
    return out
