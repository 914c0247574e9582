"""Login, first-passkey setup and logout pages.

The ceremonies themselves run in the browser (`static/passkeys.js`) against the API's
`/auth/*` operations; these pages only serve the buttons. The setup secret stays in the URL
fragment, which browsers never send to the server, and the page's script posts it once.
"""

from __future__ import annotations

from aiohttp import web

from ._operations import COOKIE
from ._pages_kit import PageKit, safe_next
from ._principal import Principal


class AuthPages:
    def __init__(self, kit: PageKit) -> None:
        self._kit = kit

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.home),
            web.get("/login", self.login),
            web.get("/setup", self.setup),
            web.post("/logout", self._kit.page(self.logout)),
        ]

    async def home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/sessions")

    async def login(self, request: web.Request) -> web.StreamResponse:
        target = safe_next(request.query.get("next"))
        principal = await self._kit.authenticate(request)
        if principal is not None and principal.login_hash is not None:
            raise web.HTTPSeeOther(target)
        return await self._kit.render("login.html", principal=None, next_url=target,
                                      logged_out=request.query.get("logged_out") == "1")

    async def setup(self, request: web.Request) -> web.StreamResponse:
        return await self._kit.render("setup.html", principal=None)

    async def logout(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        await self._kit.deps.accounts.logout(who)
        response = web.HTTPSeeOther("/login?logged_out=1")
        response.del_cookie(COOKIE, path="/")
        raise response
