"""The server-rendered Session Studio page: where its routes come from.

    _pages_kit.py       templates, login guard, CSRF on forms, calling the API's handlers
    _pages_forms.py     form fields -> the API's request models, messages naming the field
    _pages_auth.py      /login, /setup, /logout
    _pages_sessions.py  /sessions: inventory, bulk revoke, New Session, one session's page
    _pages_agents.py    /agents: the registry
    _pages_tokens.py    /tokens: admin API tokens, inviting admins, adding a passkey
    _pages_approvals.py /approvals: the inbox of held requests, approve (step-up) and reject

HTML comes from `templates/` (Jinja2, autoescaped); the little JavaScript the browser must run
(passkey ceremonies, copy buttons, confirm dialogs) is in `static/`, since the page's CSP
allows no inline script or style.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ._pages_agents import AgentPages
from ._pages_approvals import ApprovalPages
from ._pages_auth import AuthPages
from ._pages_kit import PageKit, static_urls
from ._pages_sessions import SessionPages
from ._pages_tokens import TokenPages

if TYPE_CHECKING:
    from ._api import AdminApi, AdminDeps
    from ._principal import Principal

ASSETS = ("studio.css", "studio.js")  # studio.js imports passkeys.js itself


def add_pages(app: web.Application, deps: AdminDeps, api: AdminApi, *,
              authenticate: Callable[[web.Request], Awaitable[Principal | None]]) -> None:
    kit = PageKit.create(deps, api, authenticate, static_urls(app, ASSETS))
    for pages in (AuthPages(kit), SessionPages(kit), AgentPages(kit), TokenPages(kit),
                  ApprovalPages(kit)):
        app.router.add_routes(pages.routes())
    app.middlewares.append(_page_not_found(kit))


def _page_not_found(kit: PageKit) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Unknown page paths answer a page, not aiohttp's bare text (the API keeps its JSON)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[
            [web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if request.path.startswith(("/api/", "/static/")):
                raise
            principal = await kit.authenticate(request)
            if principal is not None and principal.login_hash is None:
                principal = None
            return await kit.problem(404, "Not found", "There is no page at this address.",
                                     principal=principal)

    return middleware
