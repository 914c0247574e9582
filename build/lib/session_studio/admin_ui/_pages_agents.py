"""The agents registry page: who the agents are, their budgets and active sessions, a form to
register one, and per agent the two ways to cut a leaked credential off: reissue (a new
credential, the old one dead at once) and disable (credential dead, every session revoked, for
good). A new credential is shown once, in the answer to the POST that made it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup
from session_studio.policy import parse_amount
from session_studio.store import Conflict

from . import _pages_forms as forms
from ._api import AGENT_NAME
from ._charts import spend_chart_svg
from ._errors import ApiError
from ._pages_forms import FormProblem
from ._pages_kit import PageKit
from ._principal import Principal
from ._schemas import AgentCreated, AgentDisabledOut, AgentList, AgentOut, AgentReissued


class AgentPages:
    def __init__(self, kit: PageKit) -> None:
        self._kit = kit

    def routes(self) -> list[web.RouteDef]:
        one = "/agents/{name:" + AGENT_NAME + "}"
        return [web.get("/agents", self._kit.page(self.registry)),
                web.post("/agents", self._kit.page(self.register)),
                web.post(one + "/reissue", self._kit.page(self.reissue)),
                web.post(one + "/disable", self._kit.page(self.disable))]

    async def registry(self, request: web.Request, who: Principal) -> web.StreamResponse:
        return await self._page(request, who)

    async def _page(self, request: web.Request, who: Principal, *, status: int = 200,
                    problem: FormProblem | None = None, created: AgentCreated | None = None,
                    reissued: AgentReissued | None = None,
                    disabled: AgentDisabledOut | None = None,
                    values: dict[str, Any] | None = None) -> web.StreamResponse:
        agents = await self._kit.invoke(self._kit.api.list_agents, request, who, AgentList)
        return await self._kit.render(
            "agents.html", principal=who, nav="agents", agents=agents.items, problem=problem,
            created=created, reissued=reissued, disabled=disabled,
            values=values or {"name": "", "daily_budget": ""}, status=status,
            charts=await self._budget_charts(who, agents.items))

    async def _budget_charts(self, who: Principal, agents: list[AgentOut]) -> dict[str, Markup]:
        """Spend per hour against the budget, for each agent that has one."""
        service = self._kit.deps.service
        ws = await service.workspace_by_id(who.workspace_id)
        charts: dict[str, Markup] = {}
        for agent in agents:
            if agent.daily_budget is None:
                continue
            per_hour = await service.agent_spend_per_hour(ws, agent.name)
            charts[agent.name] = Markup(spend_chart_svg(  # noqa: S704 - escaped by the renderer
                per_hour, limit=parse_amount(agent.daily_budget), unit="USD",
                now_ms=self._kit.deps.clock(), title=f"{agent.name}: spend per hour"))
        return charts

    async def register(self, request: web.Request, who: Principal) -> web.StreamResponse:
        form = await self._kit.form(request, who)
        values = {"name": form.get("name", ""), "daily_budget": form.get("daily_budget", "")}
        try:
            body = forms.agent_create(form)
            created = await self._kit.invoke(self._kit.api.create_agent, request, who,
                                             AgentCreated, body=body)
        except FormProblem as exc:
            return await self._page(request, who, status=422, problem=exc, values=values)
        except Conflict as exc:  # the name is taken
            return await self._page(request, who, status=409, values=values,
                                    problem=FormProblem("name", str(exc)))
        except ApiError as exc:
            if exc.status not in (400, 409, 422):
                raise
            return await self._page(request, who, status=422, problem=forms.from_api(exc),
                                    values=values)
        return await self._page(request, who, created=created)

    async def reissue(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        reissued = await self._kit.invoke(self._kit.api.reissue_agent, request, who,
                                          AgentReissued, path=dict(request.match_info))
        return await self._page(request, who, reissued=reissued)

    async def disable(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        disabled = await self._kit.invoke(self._kit.api.disable_agent, request, who,
                                          AgentDisabledOut, path=dict(request.match_info))
        return await self._page(request, who, disabled=disabled)
