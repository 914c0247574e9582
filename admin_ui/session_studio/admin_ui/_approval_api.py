"""The admin API's approvals (`/api/v1/approvals`): the inbox of held requests.

Listing and rejecting are ordinary writes a token with `approvals:write` may do. Approving
signs money out, so it takes what creating an app session takes and more: a person logged
in with a passkey *and* a passkey assertion from the last 5 minutes (step-up). An API token
gets 403 `passkey_required` whatever its scopes (CONTRACT.md, "Admin plane").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel
from session_studio.store import Approval, Scope

from session_studio.services import (
    ApprovalService,
    InvalidApprovalQuery,
    SessionService,
    approval_view,
)

from ._approval_schemas import (
    ApprovalDecision,
    ApprovalOut,
    ApprovalPageOut,
    ApprovalQuery,
    PendingCount,
)
from ._errors import ValidationFailed
from ._operations import Call, Operation
from ._principal import Principal

APPROVAL_ID = r"[0-9a-f]{32}"
_APPROVE_RULE = ("Signs (and for a send, broadcasts) exactly the held request, after "
                 "re-checking revocation, expiry and the spend windows. Only a person logged in "
                 "with a passkey assertion from the last 5 minutes (step-up) may approve; an API "
                 "token gets 403 passkey_required. 409 when it is no longer pending.")


def approval_out(approval: Approval) -> ApprovalOut:
    return ApprovalOut.model_validate(approval_view(approval))


class _Deps(Protocol):
    @property
    def approvals(self) -> ApprovalService: ...
    @property
    def service(self) -> SessionService: ...


class ApprovalApi:
    """Handlers over the admin plane's deps (read when called: the operation table is also
    built without any, for the OpenAPI document and its tests)."""

    def __init__(self, deps: _Deps, *, require_step_up: Callable[[Principal], None]) -> None:
        self._d = deps
        self._require_step_up = require_step_up

    @property
    def _approvals(self) -> ApprovalService:
        return self._d.approvals

    async def _ws_id(self, who: Principal) -> str:
        return (await self._d.service.workspace_by_id(who.workspace_id)).id

    async def list(self, call: Call) -> BaseModel:
        q: ApprovalQuery = call.query
        try:
            page = await self._approvals.list(await self._ws_id(call.who), status=q.status,
                                              limit=q.limit, cursor=q.cursor)
        except InvalidApprovalQuery as exc:
            raise ValidationFailed(exc.field, str(exc)) from exc
        return ApprovalPageOut(items=[approval_out(a) for a in page.items],
                               next_cursor=page.next_cursor)

    async def pending(self, call: Call) -> BaseModel:
        return PendingCount(pending=await self._approvals.pending_count(
            await self._ws_id(call.who)))

    async def get(self, call: Call) -> BaseModel:
        return approval_out(await self._approvals.get(await self._ws_id(call.who),
                                                      call.path["approval_id"]))

    async def reject(self, call: Call) -> BaseModel:
        body: ApprovalDecision = call.body
        try:
            decided = await self._approvals.reject(
                await self._ws_id(call.who), call.path["approval_id"],
                decided_by=call.who.actor, reason=body.reason)
        except InvalidApprovalQuery as exc:
            raise ValidationFailed(exc.field, str(exc)) from exc
        return approval_out(decided)

    async def approve(self, call: Call) -> BaseModel:
        # Before anything is read: a token learns nothing from this door but that it is shut.
        self._require_step_up(call.who)
        return approval_out(await self._approvals.approve(
            await self._ws_id(call.who), call.path["approval_id"],
            decided_by=call.who.actor))

    def operations(self) -> Sequence[Operation]:
        scope = Scope.APPROVALS_WRITE
        aid = {"approval_id": APPROVAL_ID}

        def op(method: str, path: str, name: str, summary: str, handler: Any,
               response: type[BaseModel], **extra: Any) -> Operation:
            return Operation(method=method, path=path, operation_id=name, summary=summary,
                             handler=handler, scope=scope, response=response,
                             tag="approvals", **extra)

        return (
            op("GET", "/approvals", "listApprovals",
               "Requests held for approval, newest first (filter by status, cursor)",
               self.list, ApprovalPageOut, query=ApprovalQuery),
            op("GET", "/approvals/pending-count", "countPendingApprovals",
               "How many requests wait for a person (the page's badge)", self.pending,
               PendingCount),
            op("GET", "/approvals/{approval_id}", "getApproval", "One approval", self.get,
               ApprovalOut, path_patterns=aid),
            op("POST", "/approvals/{approval_id}/reject", "rejectApproval",
               "Reject a held request; its reserved cost is released", self.reject,
               ApprovalOut, body=ApprovalDecision, path_patterns=aid,
               description="409 when it is no longer pending."),
            op("POST", "/approvals/{approval_id}/approve", "approveApproval",
               "Approve a held request: it is signed (a send is broadcast)", self.approve,
               ApprovalOut, path_patterns=aid, description=_APPROVE_RULE),
        )
