"""The one table of what a broadcast's outcome means (`proxy._outcome`), without a node.

The send path and crash recovery apply the same rules; where they differ (a "nonce too low",
a silent node, a nonce nobody recorded as explicit), the rule says why in the module docstring.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from session_studio.proxy._outcome import (
    RECOVERY,
    SEND,
    Attempt,
    Effect,
    NodeAnswer,
    Rule,
    rule_for,
    send_raw,
    settle_broadcast,
)
from session_studio.store import Reservation, ReservationStatus, Store

from .fakes import SILENT, FakeUpstream, NodeError, RecordingLedger

RESERVATION = Reservation(id="r1", session_id="s1", amount=10, nonce=3, chain_id=31337)
TX_HASH = "0x" + "ab" * 32
MINED = {"status": "0x1", "gasUsed": "0x5208", "effectiveGasPrice": "0x1",
         "blockNumber": "0x5", "blockHash": "0x" + "11" * 32}
EXPLICIT = Attempt(first=True, explicit_nonce=True)


@pytest.mark.parametrize(("node", "answer"), [
    ("0x" + "ab" * 32, NodeAnswer.ACCEPTED),
    (NodeError("already known"), NodeAnswer.ALREADY_KNOWN),
    (NodeError("Known transaction"), NodeAnswer.ALREADY_KNOWN),
    (NodeError("nonce too low: next nonce 5, tx nonce 3"), NodeAnswer.NONCE_USED),
    (NodeError("OldNonce"), NodeAnswer.NONCE_USED),
    (NodeError("insufficient funds for gas * price + value"), NodeAnswer.REFUSED),
    (NodeError("unknown transaction type not supported"), NodeAnswer.REFUSED),
    (SILENT, NodeAnswer.NO_ANSWER),
])
async def test_the_nodes_answer_is_read_through_the_wordings_table(node: Any,
                                                                   answer: NodeAnswer) -> None:
    upstream = FakeUpstream({"eth_sendRawTransaction": node})
    sent = await send_raw(upstream, b"\x02\x01")
    assert sent.answer is answer
    assert upstream.calls == [("eth_sendRawTransaction", ["0x0201"])]
    assert (sent.error is None) == (answer is NodeAnswer.ACCEPTED)


@pytest.mark.parametrize("attempt", [SEND, EXPLICIT, RECOVERY])
@pytest.mark.parametrize("answer", [NodeAnswer.ACCEPTED, NodeAnswer.ALREADY_KNOWN])
def test_an_accepted_or_already_known_transaction_is_broadcast_for_send_and_recovery(
        answer: NodeAnswer, attempt: Attempt) -> None:
    assert rule_for(answer, attempt) == Rule(effect=Effect.MARK_BROADCAST)


@pytest.mark.parametrize("attempt", [SEND, EXPLICIT])
def test_a_fresh_send_called_stale_is_released_and_its_nonce_never_pooled(
        attempt: Attempt) -> None:
    assert rule_for(NodeAnswer.NONCE_USED, attempt) == Rule(effect=Effect.RELEASE,
                                                            return_nonce=False)


def test_a_rebroadcast_called_stale_is_judged_by_its_receipt() -> None:
    assert rule_for(NodeAnswer.NONCE_USED, RECOVERY) == Rule(effect=Effect.CHECK_RECEIPT)


def test_a_refused_send_pools_the_nonce_only_when_the_sidecar_picked_it() -> None:
    assert rule_for(NodeAnswer.REFUSED, SEND) == Rule(effect=Effect.RELEASE, return_nonce=True)
    assert rule_for(NodeAnswer.REFUSED, EXPLICIT) == Rule(effect=Effect.RELEASE,
                                                          return_nonce=False)


def test_a_refused_rebroadcast_pools_its_nonce_since_the_ledger_cannot_tell_whose_it_was(
) -> None:
    assert rule_for(NodeAnswer.REFUSED, RECOVERY) == Rule(effect=Effect.RELEASE,
                                                          return_nonce=True)


def test_no_answer_is_unknown_for_a_send_and_left_alone_by_recovery() -> None:
    assert rule_for(NodeAnswer.NO_ANSWER, SEND).effect is Effect.MARK_UNKNOWN
    assert rule_for(NodeAnswer.NO_ANSWER, EXPLICIT).effect is Effect.MARK_UNKNOWN
    assert rule_for(NodeAnswer.NO_ANSWER, RECOVERY).effect is Effect.LEAVE


@pytest.mark.parametrize(("answer", "attempt", "outcomes", "releases"), [
    (NodeAnswer.ACCEPTED, SEND, [ReservationStatus.BROADCAST], []),
    (NodeAnswer.ALREADY_KNOWN, SEND, [ReservationStatus.BROADCAST], []),
    (NodeAnswer.NONCE_USED, SEND, [], [False]),
    (NodeAnswer.REFUSED, SEND, [], [True]),
    (NodeAnswer.REFUSED, EXPLICIT, [], [False]),
    (NodeAnswer.NO_ANSWER, SEND, [ReservationStatus.UNKNOWN], []),
    (NodeAnswer.NO_ANSWER, RECOVERY, [], []),
])
async def test_the_ledger_is_told_exactly_what_the_rule_says(
        answer: NodeAnswer, attempt: Attempt, outcomes: list[ReservationStatus],
        releases: list[bool]) -> None:
    ledger = RecordingLedger()
    upstream = FakeUpstream({})  # no receipt is asked outside a stale rebroadcast
    await settle_broadcast(cast(Store, ledger), upstream, RESERVATION, answer=answer,
                           attempt=attempt, tx_hash=TX_HASH, now_ms=1)
    assert (ledger.outcomes, ledger.releases) == (outcomes, releases)
    assert upstream.calls == []


@pytest.mark.parametrize(("receipt", "status"), [
    (MINED, ReservationStatus.BROADCAST),
    (None, ReservationStatus.UNKNOWN),
    (SILENT, ReservationStatus.UNKNOWN),
    (NodeError("header not found"), ReservationStatus.UNKNOWN),
    ("not a receipt", ReservationStatus.UNKNOWN),
])
async def test_a_stale_rebroadcast_is_never_released_only_marked_by_its_receipt(
        receipt: Any, status: ReservationStatus) -> None:
    ledger = RecordingLedger()
    upstream = FakeUpstream({"eth_getTransactionReceipt": receipt})
    await settle_broadcast(cast(Store, ledger), upstream, RESERVATION,
                           answer=NodeAnswer.NONCE_USED, attempt=RECOVERY, tx_hash=TX_HASH,
                           now_ms=1)
    assert ledger.outcomes == [status]
    assert ledger.releases == []
    assert upstream.calls == [("eth_getTransactionReceipt", [TX_HASH])]
