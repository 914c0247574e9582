"""Steps the approval contract tests and properties share: a session that holds requests over
5 ETH, holding one (exactly as the RPC plane calls `reserve_and_sign`), and approving one
(exactly as the approval signer calls `approve_and_sign`, with the engine's real re-check)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from session_studio.policy import Decision, SessionState, evaluate_approval
from session_studio.store import (
    Approval,
    ApprovalDraft,
    Reservation,
    Session,
    Store,
    Workspace,
    new_id,
)

from ..conftest import (
    CHAIN_ID,
    ETHER,
    FAKE_TX_HASH,
    MINUTE_MS,
    RECIPIENT,
    T0,
    fake_sign,
    new_session,
    nonce_request,
    transfer_evaluate,
)

APPROVE_ABOVE = 5 * ETHER
DAILY = 10 * ETHER
TTL_MS = 60 * MINUTE_MS
SignFn = Callable[[int | None, bytes | None], tuple[Any, str | None, bytes | None]]


async def approval_session(store: Store, workspace: Workspace, *, daily: int = DAILY,
                           **fields: Any) -> Session:
    """A session whose per-tx cap is its daily limit and which holds anything over 5 ETH."""
    session = replace(new_session(workspace, per_tx=daily, daily=daily, **fields),
                      approve_above=APPROVE_ABOVE)
    await store.insert_session(session, sealed_key=os.urandom(96),
                               credential_hash=os.urandom(32))
    return session


def draft(*, ttl_ms: int = TTL_MS) -> ApprovalDraft:
    return ApprovalDraft(id=new_id(), chain_id=CHAIN_ID, unit="ETH",
                         summary=f"transfer to {RECIPIENT}", detail={"to": RECIPIENT},
                         payload={"to": RECIPIENT, "value": "0x1"}, ttl_ms=ttl_ms)


async def hold(store: Store, session: Session, value_wei: int, *, now_ms: int = T0,
               ttl_ms: int = TTL_MS, window_mode: str = "rolling_24h",
               sign: SignFn = fake_sign,
               ) -> tuple[Decision, Reservation | None, ApprovalDraft]:
    """A send of `value_wei` with an approval draft: held if it is over the threshold."""
    held = draft(ttl_ms=ttl_ms)
    decision, reservation, _ = await store.reserve_and_sign(
        session_id=session.id, method="eth_sendTransaction", clock=lambda: now_ms,
        window_mode=window_mode, evaluate=transfer_evaluate(session, value_wei),
        nonce=nonce_request(session), sign=sign, hold=held)
    return decision, reservation, held


def recheck(session: Session) -> Callable[[SessionState, int, int], Decision]:
    policy = session.policy()
    return lambda state, now_ms, cost: evaluate_approval(policy=policy, state=state, cost=cost,
                                                         now_ms=now_ms)


async def approve(store: Store, session: Session, approval_id: str, *, now_ms: int,
                  workspace_id: str | None = None, sign: SignFn = fake_sign,
                  window_mode: str = "rolling_24h", upstream_pending: int = 0,
                  ) -> tuple[Approval, Decision, Reservation | None, Any]:
    return await store.approve_and_sign(
        approval_id, workspace_id=workspace_id or session.workspace_id, decided_by="alice",
        clock=lambda: now_ms, window_mode=window_mode, evaluate=recheck(session),
        nonce=nonce_request(session, upstream_pending=upstream_pending), sign=sign,
        result_of=lambda _signed: FAKE_TX_HASH)
