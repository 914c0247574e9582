"""Approvals: hold, decide, expire, and the outbox of their notifications.

Consistency contract (tests/store/contract/test_approvals.py runs it on every backend):
- A held request is made by `Ledger.reserve_and_sign(hold=...)` when the policy's verdict is
  "held": in that one transaction the cost is reserved (a reservation in status `reserved`,
  no nonce, nothing signed), the approval is recorded `pending` and an `approval.pending`
  event is put in the outbox. It counts in the lineage window, the agent budget and the
  agent's self-service window exactly as signed spend does.
- `approve_and_sign` is one transaction under the same locks as `reserve_and_sign` (lineage,
  agent window, signer's nonces): it finds the approval pending and not expired, takes the
  held amount out of the window it was reserved in, evaluates (`ApprovalEvaluate`: revocation,
  expiry, the limits at this instant) and on allow signs at a nonce picked now, moves the
  reservation to `signed` in the current minute and marks the approval `approved` with the
  result. On a refusal it releases the reservation and finishes the approval (`expired` for a
  session that expired, else `rejected`, with the refusal's reason): an approval that failed
  its re-check is never tried again. Either way one outbox event is written.
- `reject_approval`, the expiry of pending approvals, and a session's revoke (which rejects
  its pending approvals in the revoking transaction) release the held cost. Each moves an
  approval out of `pending` at most once: a decision racing another finds it decided
  (`Conflict`) and changes nothing.
- A pending approval past `expires_at` is expired by `expire_approvals` and, for its own
  lineage, inside `reserve_and_sign` before the window is read, so a request never waits for
  a sweep to get back the budget an expired approval held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from session_studio.policy import Decision, SessionState

from ._approval_records import Approval, ApprovalEvent, ApprovalStatus
from ._ledger_interface import Clock, Sign
from ._records import NonceRequest, Reservation

T = TypeVar("T")
# The re-check of an approval: the session's state read under the lock (its window without the
# held amount), the instant, the held cost -> allow, or the refusal that ends the approval.
ApprovalEvaluate = Callable[[SessionState, int, int], Decision]


class ApprovalLedger(Protocol):
    async def approve_and_sign(
        self, approval_id: str, *, workspace_id: str | None, decided_by: str, clock: Clock,
        window_mode: str, evaluate: ApprovalEvaluate, nonce: NonceRequest | None,
        sign: Sign[T], result_of: Callable[[T], str], gas_wei: int | None = None,
    ) -> tuple[Approval, Decision, Reservation | None, T | None]:
        """Sign a pending approval (see the module docstring). Raises `NotFound` (no such
        approval in `workspace_id`; None = any workspace, for the CLI on the host) and
        `Conflict` (no longer pending). A `sign` that raises changes nothing.

        `result_of` turns the signed artefact into the approval's `result` (what the original
        method answers: the tx hash of a send, the raw transaction, the signature), stored in
        the same transaction. Returns the approval as it is after this call, the decision,
        and on allow the reservation (now `signed`, with its nonce) and the artefact."""
    async def reject_approval(self, approval_id: str, *, workspace_id: str | None,
                              decided_by: str, reason: str, now_ms: int) -> Approval:
        """Pending -> rejected, the held cost released. NotFound / Conflict as above."""
    async def expire_approvals(self, *, now_ms: int) -> int:
        """Every pending approval past its expiry -> expired, its cost released; how many."""
    async def record_approval_error(self, approval_id: str, error: Mapping[str, Any]) -> None:
        """The node refused the approved send ({"code", "message"} of its error)."""


class ApprovalReader(Protocol):
    async def get_approval(self, approval_id: str, *, workspace_id: str | None) -> Approval:
        """Raises `NotFound` when there is none (in that workspace)."""
    async def list_approvals(self, workspace_id: str, *, status: ApprovalStatus | None = None,
                             session_ids: Sequence[str] | None = None, limit: int = 100,
                             before: tuple[int, str] | None = None,
                             decided: bool = False) -> list[Approval]:
        """Newest first; `before` is the (created_at_ms, id) of the last one of a page;
        `decided`: only those no longer pending (the history, whatever waits)."""
    async def pending_approval_stats(self) -> list[tuple[str, int, int | None]]:
        """(workspace_id, pending count, oldest pending created_at_ms) for every workspace
        that has approvals, for the metrics."""


class ApprovalOutbox(Protocol):
    """Delivery of approval events: claimed by one process at a time, at least once."""

    async def due_approval_events(self, *, now_ms: int, limit: int) -> list[ApprovalEvent]:
        """Undelivered, not given up, due (`next_attempt_at <= now`) and not claimed by a
        live claim, oldest first."""
    async def claim_approval_event(self, event_id: int, *, now_ms: int,
                                   until_ms: int) -> bool:
        """Claim an event until `until_ms`; False when another process holds a live claim or
        it is already delivered."""
    async def approval_event_delivered(self, event_id: int, *, now_ms: int) -> None: ...
    async def approval_event_retry(self, event_id: int, *, attempts: int, next_attempt_ms: int,
                                   error: str) -> None: ...
    async def approval_event_failed(self, event_id: int, *, now_ms: int, error: str) -> None:
        """Given up after the last retry: kept, with the error, for the operator."""


class ApprovalStore(ApprovalLedger, ApprovalReader, ApprovalOutbox, Protocol):
    """Everything about approvals."""
