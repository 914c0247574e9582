"""The session pages: inventory (tabs, filters, sorts, pages, bulk revoke), New Session forms,
and one session's page (usage, decisions, revoke, rotate, export, snippets).

Secrets (a new credential, a rotated successor's, an export) are rendered straight into the
answer to the POST that produced them and never put in a URL or kept for a later GET: they are
shown once, and the answer is `no-store`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup
from pydantic import BaseModel
from session_studio.policy import Permission, parse_amount
from session_studio.store import NotFound, SessionType

from . import _pages_forms as forms
from ._api import KEY_HASH
from ._charts import spend_chart_svg
from ._errors import ApiError
from ._pages_forms import FormProblem
from ._pages_kit import NOTICES, PageKit
from ._principal import Principal
from ._schemas import (
    AgentList,
    Artifact,
    BulkRevokeResult,
    EventPage,
    EventQuery,
    SessionOut,
    SessionPage,
    SessionQuery,
    Snippet,
    SnippetLang,
    SnippetQuery,
    Sort,
    Usage,
)

SORT_LABELS = {Sort.CREATED_DESC: "Newest first", Sort.CREATED: "Oldest first",
               Sort.LAST_USED_DESC: "Recently used first", Sort.LAST_USED: "Least recently used",
               Sort.EXPIRY: "Expiring soonest", Sort.EXPIRY_DESC: "Expiring latest"}
SNIPPET_TITLES = {SnippetLang.PYTHON: "Python (web3.py)", SnippetLang.VIEM: "TypeScript (viem)",
                  SnippetLang.ETHERS: "TypeScript (ethers v6)"}
RECENT_DECISIONS = 20


def _tab(value: str | None) -> SessionType:
    return SessionType.AGENT if value == SessionType.AGENT.value else SessionType.APP


def _pretty(model: BaseModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=2)


class SessionPages:
    """Route handlers for /sessions..., each running the admin API's handler underneath."""

    def __init__(self, kit: PageKit) -> None:
        self._kit = kit
        self._api = kit.api

    def routes(self) -> list[web.RouteDef]:
        page = self._kit.page
        kh = "/sessions/{key_hash:" + KEY_HASH + "}"
        return [
            web.get("/sessions", page(self.inventory)),
            web.get("/sessions/new", page(self.new_form)),
            web.post("/sessions/new", page(self.create)),
            web.get("/sessions/revoke-matching", page(self.confirm_bulk_revoke)),
            web.post("/sessions/revoke-matching", page(self.bulk_revoke)),
            web.get(kh, page(self.show)),
            web.post(kh + "/revoke", page(self.revoke)),
            web.post(kh + "/rotate", page(self.rotate)),
            web.post(kh + "/export", page(self.export)),
        ]

    # -- inventory -------------------------------------------------------------------------
    async def inventory(self, request: web.Request, who: Principal) -> web.StreamResponse:
        params = {key: request.query[key] for key in request.query}
        tab = _tab(params.get("type"))
        params["type"] = tab.value
        problem: FormProblem | None = None
        try:
            query = forms.session_query(params)
        except FormProblem as exc:
            problem, query = exc, SessionQuery(type=tab)
        try:
            page = await self._kit.invoke(self._api.list_sessions, request, who, SessionPage,
                                          query=query)
        except ApiError as exc:  # a cursor from another sort order or a hand-edited one
            problem = forms.from_api(exc)
            page = SessionPage(items=[], next_cursor=None)
        agents = await self._kit.invoke(self._api.list_agents, request, who, AgentList)
        current = forms.filters(params)
        current.pop("cursor", None)
        next_url = None
        if page.next_cursor is not None:
            next_url = "/sessions?" + urlencode({**current, "cursor": page.next_cursor})
        revoke_url = "/sessions/revoke-matching?" + urlencode(
            forms.filters(current, ("type", "chain", "agent", "label")))
        return await self._kit.render(
            "sessions.html", principal=who, nav="sessions", tab=tab.value, page=page,
            filters=current, agents=agents.items, problem=problem, next_url=next_url,
            paged="cursor" in params, first_url="/sessions?" + urlencode(current),
            revoke_url=revoke_url,
            can_bulk_revoke=current.get("status", "active") == "active",
            sorts=SORT_LABELS, sort=query.sort.value, notice=_notice(params))

    # -- bulk revoke -------------------------------------------------------------------------
    async def confirm_bulk_revoke(self, request: web.Request,
                                  who: Principal) -> web.StreamResponse:
        params = {key: request.query[key] for key in request.query}
        return await self._bulk_confirmation(request, who, params, changed_from=None)

    async def _bulk_confirmation(self, request: web.Request, who: Principal,
                                 params: dict[str, str], *,
                                 changed_from: int | None) -> web.StreamResponse:
        params["type"] = _tab(params.get("type")).value
        try:
            body = forms.bulk_revoke(params, dry_run=True)
        except FormProblem as exc:
            return await self._kit.problem(422, "Cannot revoke", exc.text, principal=who)
        preview = await self._kit.invoke(self._api.bulk_revoke, request, who,
                                         BulkRevokeResult, body=body)
        chosen = forms.filters(params, ("type", "chain", "agent", "label"))
        return await self._kit.render(
            "bulk_revoke.html", principal=who, nav="sessions", preview=preview,
            filters=chosen, changed_from=changed_from,
            back_url="/sessions?" + urlencode(chosen))

    async def bulk_revoke(self, request: web.Request, who: Principal) -> web.StreamResponse:
        form = await self._kit.form(request, who)
        params = {key: form[key] for key in ("type", "chain", "agent", "label") if key in form}
        params["type"] = _tab(params.get("type")).value
        try:
            preview_body = forms.bulk_revoke(params, dry_run=True)
            body = forms.bulk_revoke(params, dry_run=False)
        except FormProblem as exc:
            return await self._kit.problem(422, "Cannot revoke", exc.text, principal=who)
        # What the operator confirmed was a number; if the fleet changed since, show the new
        # number instead of revoking something they have not seen counted.
        preview = await self._kit.invoke(self._api.bulk_revoke, request, who,
                                         BulkRevokeResult, body=preview_body)
        expected = form.get("expected", "")
        if not expected.isdigit() or int(expected) != preview.count:
            return await self._bulk_confirmation(
                request, who, params,
                changed_from=int(expected) if expected.isdigit() else None)
        done = await self._kit.invoke(self._api.bulk_revoke, request, who, BulkRevokeResult,
                                      body=body)
        back = forms.filters(params, ("type", "chain", "agent", "label"))
        raise web.HTTPSeeOther("/sessions?" + urlencode(
            {**back, "notice": "bulk_revoked", "count": str(done.count)}))

    # -- New Session -----------------------------------------------------------------------
    async def new_form(self, request: web.Request, who: Principal) -> web.StreamResponse:
        tab = _tab(request.query.get("type"))
        defaults: dict[str, Any] = {
            "label": "", "agent": "", "chain_ids": "", "tokens": "", "limit_unit": "USD",
            "per_tx_limit": "", "daily_limit": "", "expires_in": "7d", "recipients": "",
            "contracts": "", "rate_limit_per_minute": "", "max_fee_per_gas_gwei": "",
            "approve_above": "",
            "permissions": [Permission.TRANSFER.value]}
        return await self._form(request, who, tab, defaults, problem=None)

    async def _form(self, request: web.Request, who: Principal, tab: SessionType,
                    values: dict[str, Any], *, problem: FormProblem | None,
                    force_step_up: bool = False, status: int = 200) -> web.StreamResponse:
        agents = await self._kit.invoke(self._api.list_agents, request, who, AgentList)
        configured = self._kit.deps.service.configured_chains()
        chains = [f"{chain_id} ({name})" for chain_id, name, _ in configured]
        tokens = sorted({symbol for _, _, symbols in configured for symbol in symbols})
        return await self._kit.render(
            "session_new.html", principal=who, nav="sessions", tab=tab.value, values=values,
            problem=problem, agents=agents.items, permissions=[p.value for p in Permission],
            known_chains=chains, known_tokens=tokens, force_step_up=force_step_up,
            status=status)

    async def create(self, request: web.Request, who: Principal) -> web.StreamResponse:
        form = await self._kit.form(request, who)
        tab = _tab(form.get("type"))
        values = forms.session_values(form)
        try:
            body = forms.session_create(form, tab)
            artifact = await self._kit.invoke(self._api.create_session, request, who, Artifact,
                                              body=body)
        except FormProblem as exc:
            return await self._form(request, who, tab, values, problem=exc, status=422)
        except NotFound as exc:  # an agent deleted or renamed since the form was shown
            return await self._form(request, who, tab, values,
                                    problem=FormProblem("agent", str(exc)), status=422)
        except ApiError as exc:
            if exc.code == "step_up_required":
                return await self._form(
                    request, who, tab, values, force_step_up=True, status=403,
                    problem=FormProblem("form", "confirm with your passkey, then create "
                                                "the session again"))
            if exc.status not in (400, 422):
                raise
            return await self._form(request, who, tab, values, problem=forms.from_api(exc),
                                    status=422)
        return await self._artifact(request, who, artifact, heading="Session created",
                                    intro="created")

    async def _artifact(self, request: web.Request, who: Principal, artifact: Artifact, *,
                        heading: str, intro: str,
                        predecessor: str | None = None) -> web.StreamResponse:
        snippets = await self._snippets(request, who, artifact.key_hash)
        return await self._kit.render(
            "artifact.html", principal=who, nav="sessions", heading=heading, intro=intro,
            artifact=artifact, artifact_json=_pretty(artifact), snippets=snippets,
            predecessor=predecessor)

    async def _snippets(self, request: web.Request, who: Principal,
                        key_hash: str) -> list[tuple[str, str, str]]:
        out = []
        for lang in SnippetLang:
            found = await self._kit.invoke(self._api.snippet, request, who, Snippet,
                                           path={"key_hash": key_hash},
                                           query=SnippetQuery(lang=lang))
            out.append((lang.value, SNIPPET_TITLES[lang], found.code))
        return out

    # -- one session -----------------------------------------------------------------------
    async def show(self, request: web.Request, who: Principal) -> web.StreamResponse:
        path = {"key_hash": request.match_info["key_hash"]}
        session = await self._kit.invoke(self._api.get_session, request, who, SessionOut,
                                         path=path)
        usage = await self._kit.invoke(self._api.usage, request, who, Usage, path=path)
        events = await self._kit.invoke(self._api.events, request, who, EventPage, path=path,
                                        query=EventQuery(limit=RECENT_DECISIONS))
        snippets = await self._snippets(request, who, session.key_hash)
        ws = await self._kit.deps.service.workspace_by_id(who.workspace_id)
        per_hour = await self._kit.deps.service.spend_per_hour(ws, session.key_hash)
        chart = Markup(spend_chart_svg(  # noqa: S704 - built by the chart renderer, which escapes
            per_hour, limit=parse_amount(session.limits.daily), unit=session.limits.unit,
            now_ms=self._kit.deps.clock()))
        return await self._kit.render(
            "session.html", principal=who, nav="sessions", session=session, usage=usage,
            events=events.items, snippets=snippets, notice=_notice(request.query),
            spend_chart=chart)

    async def revoke(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        path = {"key_hash": request.match_info["key_hash"]}
        revoked = await self._kit.invoke(self._api.revoke, request, who, SessionOut, path=path)
        raise web.HTTPSeeOther(f"/sessions/{revoked.key_hash}?notice=revoked")

    async def rotate(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        old = request.match_info["key_hash"].lower()
        successor = await self._kit.invoke(self._api.rotate, request, who, Artifact,
                                           path={"key_hash": old})
        return await self._artifact(request, who, successor, heading="Session rotated",
                                    intro="rotated", predecessor=old)

    async def export(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        artifact = await self._kit.invoke(self._api.export, request, who, Artifact,
                                          path={"key_hash": request.match_info["key_hash"]})
        heading = ("Agent config" if artifact.type is SessionType.AGENT
                   else "Provisioning artifact")
        return await self._artifact(request, who, artifact, heading=heading, intro="exported")


def _notice(params: Any) -> str | None:
    template = NOTICES.get(str(params.get("notice", "")))
    if template is None:
        return None
    count = str(params.get("count", ""))
    return template.format(count=int(count) if count.isdigit() else 0)
