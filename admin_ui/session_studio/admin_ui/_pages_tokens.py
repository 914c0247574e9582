"""The access page: admin API tokens (list, create, revoke), inviting another admin, and adding
a passkey.

Creating a token and inviting an admin need a passkey assertion from the last five minutes;
the API's handlers enforce it and the page's script performs the assertion before submitting
(`data-step-up` forms). Secrets (a token, a setup link) appear once, in the POST's answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError
from session_studio.store import Scope

from . import _pages_forms as forms
from ._api import TOKEN_ID
from ._errors import ApiError
from ._pages_forms import FormProblem
from ._pages_kit import NOTICES, PageKit
from ._principal import Principal
from ._schemas import AdminInvite, InviteLink, TokenCreated, TokenList, TokenOut

EXPIRY_CHOICES = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"),
                  ("365d", "365 days"), ("never", "never"))
_STEP_UP_AGAIN = "confirm with your passkey, then submit again"


class TokenPages:
    def __init__(self, kit: PageKit) -> None:
        self._kit = kit

    def routes(self) -> list[web.RouteDef]:
        page = self._kit.page
        return [
            web.get("/tokens", page(self.overview)),
            web.post("/tokens", page(self.create)),
            web.post("/tokens/{token_id:" + TOKEN_ID + "}/revoke", page(self.revoke)),
            web.post("/tokens/invite", page(self.invite)),
        ]

    async def overview(self, request: web.Request, who: Principal) -> web.StreamResponse:
        return await self._page(request, who,
                                notice=NOTICES.get(request.query.get("notice", "")))

    async def _page(self, request: web.Request, who: Principal, *, status: int = 200,
                    **context: Any) -> web.StreamResponse:
        tokens = await self._kit.invoke(self._kit.api.list_tokens, request, who, TokenList)
        shown: dict[str, Any] = {
            "created": None, "invite_link": None, "token_problem": None,
            "invite_problem": None, "notice": None, "step_up_token": False,
            "step_up_invite": False,
            "values": {"name": "", "scopes": [Scope.SESSIONS_READ.value], "expires_in": "30d",
                       "invite_name": ""}}
        shown.update(context)
        return await self._kit.render(
            "tokens.html", principal=who, nav="tokens", tokens=tokens.items,
            scopes=[s.value for s in Scope], expiries=EXPIRY_CHOICES, status=status, **shown)

    async def create(self, request: web.Request, who: Principal) -> web.StreamResponse:
        form = await self._kit.form(request, who)
        values = {"name": form.get("name", ""), "scopes": form.getall("scopes", []),
                  "expires_in": form.get("expires_in", "30d"), "invite_name": ""}
        try:
            body = forms.token_create(form)
            created = await self._kit.invoke(self._kit.api.create_token, request, who,
                                             TokenCreated, body=body)
        except FormProblem as exc:
            return await self._page(request, who, status=422, token_problem=exc, values=values)
        except ApiError as exc:
            if exc.code == "step_up_required":
                return await self._page(request, who, status=403, values=values,
                                        step_up_token=True,
                                        token_problem=FormProblem("form", _STEP_UP_AGAIN))
            if exc.status not in (400, 422):
                raise
            return await self._page(request, who, status=422, values=values,
                                    token_problem=forms.from_api(exc))
        return await self._page(request, who, created=created)

    async def revoke(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        await self._kit.invoke(self._kit.api.revoke_token, request, who, TokenOut,
                               path={"token_id": request.match_info["token_id"]})
        raise web.HTTPSeeOther("/tokens?notice=token_revoked")

    async def invite(self, request: web.Request, who: Principal) -> web.StreamResponse:
        form = await self._kit.form(request, who)
        name = form.get("invite_name", "").strip()
        values = {"name": "", "scopes": [Scope.SESSIONS_READ.value], "expires_in": "30d",
                  "invite_name": name}
        try:
            try:
                body = AdminInvite(name=name)
            except ValidationError as exc:
                raise FormProblem("name", forms.from_validation(exc).message) from exc
            link = await self._kit.invoke(self._kit.api.invite, request, who, InviteLink,
                                          body=body)
        except FormProblem as exc:
            return await self._page(request, who, status=422, values=values,
                                    invite_problem=exc)
        except ApiError as exc:
            if exc.code == "step_up_required":
                return await self._page(request, who, status=403, values=values,
                                        step_up_invite=True,
                                        invite_problem=FormProblem("form", _STEP_UP_AGAIN))
            if exc.status not in (400, 409, 422):
                raise
            return await self._page(request, who, status=422, values=values,
                                    invite_problem=FormProblem("name", exc.message))
        return await self._page(request, who, invite_link=link.setup_link)
