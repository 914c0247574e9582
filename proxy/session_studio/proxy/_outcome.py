"""What a broadcast's outcome means for its reservation and its nonce: the one rule table.

A signed transaction is handed to the node with `eth_sendRawTransaction` twice in the sidecar's
life: right after signing (the send path, `_pipeline.py`) and, after a crash, by
recovery (`_recovery.py`). Both call `send_raw` and then `settle_broadcast`, so both
read the node's answer the same way (`NodeAnswer`, through the wordings of
`_node_errors.py`) and apply the same table (`rule_for`):

- ACCEPTED: the node took it. `broadcast`; settlement settles it by its receipt.
- ALREADY_KNOWN: not a refusal, the node holds this very transaction and it may land, so its
  spend stays reserved and it is `broadcast` (settlement settles it by receipt, or releases it
  once its nonce passes without one). Before this module the send path left such a reservation
  `signed` (only the next start's recovery would mark it); `_node_errors.py` documents it as
  `broadcast`, which is what recovery did, so both now do.
- NONCE_USED ("nonce too low"): the nonce is consumed on chain, by *some* transaction. It is
  never handed out again. Who consumed it depends on the attempt:
  - a first broadcast (the send path): the transaction was signed a moment ago and never left
    the sidecar, so it is not the one on chain: released (a byte-identical replay of a mined
    transaction is held by that transaction's own reservation). docs/design.md, "After
    signing".
  - a rebroadcast (recovery): the transaction may have reached a node before the crash, and
    the count recovery compares against was read before its loop, so only the receipt can
    say. Mined: `broadcast` (settlement settles it to its real cost). No receipt, or no
    answer: `unknown`, never a release from here: settlement releases it (nonce not pooled)
    after its own count-then-receipt check a round later, so a receipt a lagging node indexes
    late still counts (`tests/e2e/test_recovery_mined.py`).
- REFUSED (any other error object): the transaction provably never entered that node's pool:
  released. Its nonce goes back to the pool unless it was the client's explicit one (a client
  that chose a nonce keeps it; the sidecar must not hand it to another send). Recovery cannot
  tell: the ledger does not record whether a nonce was explicit, so it pools the nonce as it
  always has. Withholding it would leave a gap behind which every later send of the signer
  waits; pooling a client's nonce costs at most a collision with the client's own replacement,
  and the store never pools a nonce a live reservation still holds.
- NO_ANSWER (timeout, connection refused, garbage): proves nothing. A first broadcast becomes
  `unknown` (the client is told the hash; settlement follows it). A rebroadcast leaves the row
  as it is, `signed` or `unknown`, for the next start or the settlement task.

The ledger applies each effect only as a step forward (`record_outcome`, `release`): a send
path slower than the grace after which any replica's settlement sweep rebroadcasts its send
finds the outcome recorded already, and a late "nonce too low" or timeout changes nothing.

Misreading is bounded as `_node_errors.py` explains: no rule here releases a transaction that
may still land, except REFUSED, which only an answer from the node itself can produce.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from session_studio.store import Ledger, Reservation, ReservationStatus

from ._errors import UpstreamError, UpstreamUnavailable
from ._settlement import UPSTREAM_FAILURES, parse_receipt
from ._upstream import Upstream

log = logging.getLogger("session_studio.proxy")


class NodeAnswer(StrEnum):
    """What the node said to one `eth_sendRawTransaction`, in the sidecar's terms."""

    ACCEPTED = "accepted"
    ALREADY_KNOWN = "already_known"
    NONCE_USED = "nonce_used"
    REFUSED = "refused"
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Broadcast:
    """One broadcast's answer, with the node's error (handed to a client as it is) if any."""

    answer: NodeAnswer
    error: UpstreamError | UpstreamUnavailable | None = None


class Effect(StrEnum):
    """What the ledger does with the reservation."""

    MARK_BROADCAST = "mark_broadcast"
    MARK_UNKNOWN = "mark_unknown"
    RELEASE = "release"
    CHECK_RECEIPT = "check_receipt"  # mined: broadcast; otherwise unknown
    LEAVE = "leave"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    effect: Effect
    return_nonce: bool = False  # RELEASE only: the nonce goes back to the pool


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """What the caller knows about this broadcast, which the rules depend on."""

    # True for the send path (signed a moment ago, never left the sidecar); False for recovery.
    first: bool
    # True: the client chose the nonce; False: the sidecar did; None: not recorded (recovery).
    explicit_nonce: bool | None


SEND = Attempt(first=True, explicit_nonce=False)
RECOVERY = Attempt(first=False, explicit_nonce=None)


def rule_for(answer: NodeAnswer, attempt: Attempt) -> Rule:
    """The table of the module docstring: pure, so it is tested without a node or a ledger."""
    if answer in (NodeAnswer.ACCEPTED, NodeAnswer.ALREADY_KNOWN):
        return Rule(effect=Effect.MARK_BROADCAST)
    if answer is NodeAnswer.NONCE_USED:
        return (Rule(effect=Effect.RELEASE, return_nonce=False) if attempt.first
                else Rule(effect=Effect.CHECK_RECEIPT))
    if answer is NodeAnswer.REFUSED:
        return Rule(effect=Effect.RELEASE, return_nonce=attempt.explicit_nonce is not True)
    return Rule(effect=Effect.MARK_UNKNOWN if attempt.first else Effect.LEAVE)


async def send_raw(upstream: Upstream, raw_tx: bytes) -> Broadcast:
    """Hand `raw_tx` to the node and classify its answer; never raises for the node's sake."""
    try:
        await upstream.call("eth_sendRawTransaction", ["0x" + raw_tx.hex()])
    except UpstreamError as exc:
        if exc.already_known:
            return Broadcast(answer=NodeAnswer.ALREADY_KNOWN, error=exc)
        if exc.stale_nonce:
            return Broadcast(answer=NodeAnswer.NONCE_USED, error=exc)
        return Broadcast(answer=NodeAnswer.REFUSED, error=exc)
    except UpstreamUnavailable as exc:
        return Broadcast(answer=NodeAnswer.NO_ANSWER, error=exc)
    return Broadcast(answer=NodeAnswer.ACCEPTED)


async def settle_broadcast(store: Ledger, upstream: Upstream, reservation: Reservation, *,
                           answer: NodeAnswer, attempt: Attempt, tx_hash: str,
                           now_ms: int) -> Rule:
    """Apply `rule_for(answer, attempt)` to the reservation; returns the rule applied."""
    rule = rule_for(answer, attempt)
    changed = True
    if rule.effect is Effect.MARK_BROADCAST:
        changed = await store.record_outcome(reservation, status=ReservationStatus.BROADCAST,
                                             now_ms=now_ms)
    elif rule.effect is Effect.MARK_UNKNOWN:
        changed = await store.record_outcome(reservation, status=ReservationStatus.UNKNOWN,
                                             now_ms=now_ms)
    elif rule.effect is Effect.RELEASE:
        changed = await store.release(reservation, now_ms=now_ms,
                                      return_nonce=rule.return_nonce)
    elif rule.effect is Effect.CHECK_RECEIPT:
        mined = await _mined(upstream, tx_hash)
        changed = await store.record_outcome(
            reservation, now_ms=now_ms,
            status=ReservationStatus.BROADCAST if mined else ReservationStatus.UNKNOWN)
        if mined:
            log.info("a transaction was mined before its rebroadcast",
                     extra={"chain_id": reservation.chain_id, "tx_hash": tx_hash})
    if not changed and attempt.first:
        # Its own replica was slower than the grace: a survivor's settlement sweep finished the
        # send first, and the ledger kept that outcome (the transitions only move forward).
        log.warning("another replica recorded this send's outcome first; the ledger keeps it",
                    extra={"chain_id": reservation.chain_id, "tx_hash": tx_hash,
                           "effect": rule.effect.value})
    return rule


async def _mined(upstream: Upstream, tx_hash: str) -> bool:
    """Whether the node has a receipt for `tx_hash`; no answer counts as no receipt."""
    try:
        return parse_receipt(await upstream.call("eth_getTransactionReceipt",
                                                 [tx_hash])) is not None
    except UPSTREAM_FAILURES:
        return False
