"""The approvals inbox (issue 14): requests held for a person, what each would do and cost
against its session's limits, and the two decisions.

Approving signs money out, so the Approve form always runs a passkey assertion in the browser
first (`data-step-up="always"` in studio.js) and the API's handler underneath still refuses
without a step-up from the last 5 minutes. Rejecting is an ordinary CSRF-checked form. Both
answer with a redirect to the approval's own page, which shows how it ended (the tx hash, the
signature, or the refusal that finished it), so a reload never decides twice.

Everything a request carries (summary, counterparties, typed-data fields) is text an agent
chose: the templates print it autoescaped, never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from session_studio.store import NotFound

from ._approval_api import APPROVAL_ID
from ._approval_schemas import ApprovalDecision, ApprovalOut, ApprovalPageOut, ApprovalQuery
from ._errors import ApiError
from ._pages_kit import PageKit
from ._principal import Principal
from ._schemas import Usage

PENDING_SHOWN = 100
HISTORY_PAGE = 50


@dataclass(frozen=True, slots=True)
class Card:
    """One approval as the inbox shows it: the API's view plus what the page works out."""

    approval: ApprovalOut
    age: str  # since it was held
    left: str  # until it expires ("" once decided)
    usage: Usage | None  # its session's limits and window now (pending ones only)

    @property
    def intents(self) -> list[Mapping[str, Any]]:
        found = self.approval.detail.get("intents")
        return [i for i in found if isinstance(i, Mapping)] if isinstance(found, list) else []

    @property
    def typed(self) -> bool:
        return "primary_type" in self.approval.detail


def duration(ms: int) -> str:
    """A span for reading: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`; never negative."""
    seconds = max(ms, 0) // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


class ApprovalPages:
    def __init__(self, kit: PageKit) -> None:
        self._kit = kit
        self._handlers = kit.api.approvals

    def routes(self) -> list[web.RouteDef]:
        page = self._kit.page
        one = "/approvals/{approval_id:" + APPROVAL_ID + "}"
        return [web.get("/approvals", page(self.inbox)),
                web.get(one, page(self.show)),
                web.post(one + "/approve", page(self.approve)),
                web.post(one + "/reject", page(self.reject))]

    # -- reading -----------------------------------------------------------------------------
    async def inbox(self, request: web.Request, who: Principal) -> web.StreamResponse:
        pending = await self._list(request, who, ApprovalQuery(status="pending",
                                                               limit=PENDING_SHOWN))
        cursor = request.query.get("cursor") or None
        try:
            recent = await self._list(request, who, ApprovalQuery(
                status="decided", limit=HISTORY_PAGE, cursor=cursor))
        except (ValidationError, ApiError):  # a cursor edited by hand: start over
            recent = await self._list(request, who, ApprovalQuery(status="decided",
                                                                  limit=HISTORY_PAGE))
        usages = await self._usages(request, who, pending.items)
        now = self._kit.deps.clock()
        return await self._kit.render(
            "approvals.html", principal=who, nav="approvals",
            pending=[self._card(a, now, usages.get(a.key_hash)) for a in pending.items],
            history=[self._card(a, now, None) for a in recent.items],
            next_url=None if recent.next_cursor is None
            else "/approvals?cursor=" + recent.next_cursor, paged=cursor is not None)

    async def show(self, request: web.Request, who: Principal, *,
                   problem: str | None = None, status: int = 200) -> web.StreamResponse:
        approval = await self._kit.invoke(self._handlers.get, request, who, ApprovalOut,
                                          path=dict(request.match_info))
        usages = await self._usages(request, who, [approval])
        card = self._card(approval, self._kit.deps.clock(), usages.get(approval.key_hash))
        return await self._kit.render("approval.html", principal=who, nav="approvals",
                                      card=card, problem=problem, status=status)

    async def _list(self, request: web.Request, who: Principal,
                    query: ApprovalQuery) -> ApprovalPageOut:
        return await self._kit.invoke(self._handlers.list, request, who, ApprovalPageOut,
                                      query=query)

    async def _usages(self, request: web.Request, who: Principal,
                      approvals: list[ApprovalOut]) -> dict[str, Usage]:
        """Each pending approval's session, as its page shows it (limits, spent in window)."""
        found: dict[str, Usage] = {}
        for key_hash in {a.key_hash for a in approvals if a.status == "pending"}:
            try:
                found[key_hash] = await self._kit.invoke(
                    self._kit.api.usage, request, who, Usage, path={"key_hash": key_hash})
            except NotFound:  # gone since (a workspace's sessions are never deleted today)
                continue
        return found

    @staticmethod
    def _card(approval: ApprovalOut, now_ms: int, usage: Usage | None) -> Card:
        created = _ms(approval.created_at)
        left = duration(_ms(approval.expires_at) - now_ms) if approval.status == "pending" else ""
        return Card(approval=approval, age=duration(now_ms - created), left=left, usage=usage)

    # -- deciding ----------------------------------------------------------------------------
    async def approve(self, request: web.Request, who: Principal) -> web.StreamResponse:
        await self._kit.form(request, who)
        try:
            decided = await self._kit.invoke(self._handlers.approve, request, who, ApprovalOut,
                                             path=dict(request.match_info))
        except ApiError as exc:
            if exc.code not in ("step_up_required", "passkey_required"):
                raise
            return await self.show(request, who, status=403, problem=(
                "Not approved: confirm with your passkey, then approve again."))
        raise web.HTTPSeeOther(f"/approvals/{decided.approval_id}")

    async def reject(self, request: web.Request, who: Principal) -> web.StreamResponse:
        form = await self._kit.form(request, who)
        try:
            body = ApprovalDecision(reason=form.get("reason", "").strip() or None)
        except ValidationError:
            return await self.show(request, who, status=422, problem=(
                "Not rejected: the reason may be at most 500 characters."))
        decided = await self._kit.invoke(self._handlers.reject, request, who, ApprovalOut,
                                         path=dict(request.match_info), body=body)
        raise web.HTTPSeeOther(f"/approvals/{decided.approval_id}")
