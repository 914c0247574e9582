"""Approvals: the inbox of requests held for a person, and who may decide them (issue 14).

The one door for the CLI and the admin plane. Who may *approve* is decided by the callers'
transports (a passkey with a fresh step-up on the page, or the host's CLI; never an API
token), so this service takes the decider's name; it is the signing that it delegates, to
the RPC plane's `ApprovalSigner` handed in by the composition root (`ApprovalSigning`), so
the held request is signed by the same pipeline as every other request.

It also runs the expiry sweep: pending approvals past their time are expired and their
reserved cost released, on every replica (the store's conditional update makes a race
harmless), besides the expiry each reservation does for its own lineage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from session_studio.basics import Periodic
from session_studio.store import (
    Approval,
    ApprovalStatus,
    ApprovalStore,
    SessionRepository,
    StoreError,
    approval_json,
)

log = logging.getLogger("session_studio.approvals")

MAX_PAGE = 200
DECIDED = "decided"  # a list filter: approved, rejected or expired
MAX_REASON = 500


class ApprovalSigning(Protocol):
    async def approve(self, approval_id: str, *, workspace_id: str | None,
                      decided_by: str) -> Approval: ...


class ApprovalsObserver(Protocol):
    def approval_decided(self, outcome: str) -> None: ...


class InvalidApprovalQuery(ValueError):
    """A bad filter, cursor or reason: the caller's 400 / usage error."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ApprovalPage:
    items: list[Approval]
    next_cursor: str | None


class _Approvals(ApprovalStore, SessionRepository, Protocol):
    """The store's slice this service uses."""


class ApprovalService:
    def __init__(self, *, store: _Approvals, signer: ApprovalSigning,
                 clock: Callable[[], int], observer: ApprovalsObserver | None = None,
                 sweep_interval_s: float = 1.0) -> None:
        self._store = store
        self._signer = signer
        self._clock = clock
        self._observer = observer
        self._sweep = Periodic("approval-expiry", sweep_interval_s, self._expire_round,
                               tick_first=True)

    async def list(self, workspace_id: str, *, status: str | None = None,
                   limit: int = 50, cursor: str | None = None) -> ApprovalPage:
        """`status` is one of the four, or "decided" (every one no longer pending)."""
        decided = status == DECIDED
        wanted = None if decided else _status(status)
        if not 0 < limit <= MAX_PAGE:
            raise InvalidApprovalQuery("limit", f"must be between 1 and {MAX_PAGE}")
        before = _cursor(cursor)
        items = await self._store.list_approvals(workspace_id, status=wanted, limit=limit + 1,
                                                 before=before, decided=decided)
        more = len(items) > limit
        items = items[:limit]
        last = items[-1] if more and items else None
        return ApprovalPage(items=items, next_cursor=None if last is None
                            else f"{last.created_at_ms}.{last.id}")

    async def get(self, workspace_id: str | None, approval_id: str) -> Approval:
        return await self._store.get_approval(approval_id, workspace_id=workspace_id)

    async def approve(self, workspace_id: str | None, approval_id: str, *,
                      decided_by: str) -> Approval:
        """Sign the held request (Conflict when it can no longer be approved). The result is
        the approval as it ended: approved, or finished by its re-check (rejected/expired)."""
        decided = await self._signer.approve(approval_id, workspace_id=workspace_id,
                                             decided_by=decided_by)
        self._count(decided.status)
        return decided

    async def reject(self, workspace_id: str | None, approval_id: str, *, decided_by: str,
                     reason: str | None) -> Approval:
        text = (reason or "").strip() or "rejected"
        if len(text) > MAX_REASON:
            raise InvalidApprovalQuery("reason", f"at most {MAX_REASON} characters")
        decided = await self._store.reject_approval(
            approval_id, workspace_id=workspace_id, decided_by=decided_by, reason=text,
            now_ms=self._clock())
        self._count(decided.status)
        return decided

    async def pending_count(self, workspace_id: str) -> int:
        stats = await self._store.pending_approval_stats()
        return next((count for ws, count, _oldest in stats if ws == workspace_id), 0)

    async def expire_due(self) -> int:
        expired = await self._store.expire_approvals(now_ms=self._clock())
        for _ in range(expired):
            self._count(ApprovalStatus.EXPIRED)
        return expired

    async def start(self) -> None:
        await self._sweep.start()

    async def stop(self) -> None:
        await self._sweep.stop()

    async def _expire_round(self) -> None:
        try:
            await self.expire_due()
        except StoreError:
            log.warning("approval expiry sweep failed; retrying next round", exc_info=True)

    def _count(self, status: ApprovalStatus) -> None:
        if self._observer is not None and status is not ApprovalStatus.PENDING:
            self._observer.approval_decided(status.value)


def approval_view(approval: Approval) -> dict[str, Any]:
    """An approval as JSON for every door (API, CLI `--json`, the page's data): one shape,
    the webhook's too (`store.approval_json`)."""
    return approval_json(approval)


def _status(status: str | None) -> ApprovalStatus | None:
    if status is None or status == "":
        return None
    try:
        return ApprovalStatus(status)
    except ValueError:
        raise InvalidApprovalQuery(
            "status", "one of " + ", ".join([*(s.value for s in ApprovalStatus), DECIDED])
        ) from None


def _cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    created, _, approval_id = cursor.partition(".")
    if not created.isdigit() or not approval_id or len(cursor) > 100:
        raise InvalidApprovalQuery("cursor", "not a cursor this list returned")
    return int(created), approval_id

