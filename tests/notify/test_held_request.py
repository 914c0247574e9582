"""From the ledger to the receiver: a request held by the real store and its rejection reach
the webhook as two signed events, in order, each the body the store wrote."""

from __future__ import annotations

import json
import time

from session_studio.policy import Decision, ReasonCode, SessionState
from session_studio.store import ApprovalDraft, SqliteStore

from session_studio.notify import WebhookNotifier, verify_signature

from .conftest import SECRET, Outbox, Receiver, now_ms


async def test_a_held_request_and_its_rejection_are_announced_in_order(
        store: SqliteStore, outbox: Outbox, receiver: Receiver) -> None:
    approval = await store.get_approval("appr-1", workspace_id=None)

    def hold(_state: SessionState, _now: int) -> Decision:
        return Decision(allowed=False, held=True, reason=ReasonCode.APPROVAL_REQUIRED,
                        detail="over approve_above", cost=5)

    _, held, _ = await store.reserve_and_sign(
        session_id=approval.session_id, method="eth_sendTransaction", clock=now_ms,
        window_mode="rolling_24h", evaluate=hold, nonce=None,
        sign=lambda _nonce, _sealed: (b"never", None, None),
        hold=ApprovalDraft(id="appr-2", chain_id=31337, unit="ETH",
                           summary="transfer 5 ETH", detail={"to": "0xbeef"},
                           payload={"tx": {}}, ttl_ms=3_600_000))
    assert held is not None
    await store.reject_approval("appr-2", workspace_id=None, decided_by="admin:ana",
                                reason="not today", now_ms=now_ms())
    sender = WebhookNotifier(store, url=receiver.url, secret=SECRET, clock=now_ms)
    await sender.start()
    try:
        assert await sender.deliver_due() == 2
    finally:
        await sender.stop()

    kinds = [headers["X-Session-Studio-Event"] for headers, _ in receiver.received]
    bodies = [json.loads(body) for _, body in receiver.received]
    assert kinds == ["approval.pending", "approval.rejected"]
    assert [b["approval"]["status"] for b in bodies] == ["pending", "rejected"]
    assert {b["approval"]["approval_id"] for b in bodies} == {"appr-2"}
    assert bodies[1]["approval"]["reason"] == "not today"
    for headers, body in receiver.received:
        assert verify_signature(SECRET, headers["X-Session-Studio-Signature"], body,
                                time.time())
    # Two stable keys a receiver may dedupe by: the outbox row (header) and the approval's
    # status change (body).
    assert [b["event_id"] for b in bodies] == ["appr-2:pending", "appr-2:rejected"]
    deliveries = [headers["X-Session-Studio-Delivery"] for headers, _ in receiver.received]
    assert len(set(deliveries)) == 2
