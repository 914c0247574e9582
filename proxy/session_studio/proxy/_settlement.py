"""Settlement: correct each transaction's reservation to what its receipt says it really cost.

A send reserves its worst case (value + gas * maxFeePerGas, + the quoted L1 data fee on an
OP-stack chain), and so does `eth_signTransaction`, whose raw transaction the client broadcasts
itself, whenever it likes. Both are followed here alike, by hash and nonce (signed is not spent:
a held-back transaction counts against the `max_outstanding_signed` bound until this task ends
it one way or the other). Once the transaction is mined, the receipt gives the real gas
(`gasUsed * effectiveGasPrice`, + its `l1Fee`), and POLICY.md asks for the reservation to be
settled down to it:

- status 1 (success): amount - gas_reserved + ceil(gas_reserved * real_wei / gas_wei_reserved),
  never more than was reserved; the rounding goes up, so the window never under-counts;
- status 0 (revert): the assets did not move, only the real gas is kept;
- no receipt, and the signer's `latest` nonce has passed the reservation's nonce: another
  transaction took that nonce (a client's replacement, or a raw transaction sent elsewhere),
  so ours can never land: the reservation is released (its nonce is not handed out again);
- no receipt otherwise: still pending, an unknown broadcast, or a signature the client has
  not broadcast yet: it stays reserved.

Everything is read from the ledger (`Ledger.unsettled`) each round, so a restart loses nothing,
and `Ledger.settle` applies a reservation's correction once only, so two `serve`s on one
database may both run this loop. An upstream that fails or answers nonsense skips the chain
for the round; the next round tries again.

Each round first finishes sends that were signed and are still not known to be broadcast
after the grace (`RpcPlaneDeps.unbroadcast_grace_ms`): their replica died between commit and
broadcast, and their nonce is a gap every later send of the signer waits behind. They are
rebroadcast by crash recovery's own code (`_recovery.rebroadcast_unconfirmed`, the rule table
of `_outcome.py` with attempt RECOVERY), so a survivor closes the gap within the grace plus
one interval, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from session_studio.store import ReservationStatus, UnsettledSend

from ._context import ChainRuntime, RpcPlaneDeps
from ._errors import UpstreamError, UpstreamUnavailable

log = logging.getLogger("session_studio.settlement")
R = TypeVar("R")


class _Malformed(Exception):
    """The upstream answered, but not with a receipt or a count we can read."""


# What "the upstream failed" means, for a caller that asks it for receipts or counts.
UPSTREAM_FAILURES = (UpstreamError, UpstreamUnavailable, _Malformed)

# Finishes the sends signed before the given instant (unix ms) that no node is known to hold,
# returning how many the node accepted: `_recovery.rebroadcast_unconfirmed` (handed in by the
# app, because `_recovery` imports this module through `_outcome`).
FinishUnbroadcast = Callable[[int], Awaitable[int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    succeeded: bool
    gas_wei_used: int | None  # gasUsed * effectiveGasPrice; None if the node omits the price


@dataclass(slots=True)
class RoundReport:
    """What one round did, by outcome (for tests and logs)."""

    settled: int = 0  # receipt with status 1
    reverted: int = 0  # receipt with status 0
    released: int = 0  # nonce passed without our receipt
    pending: int = 0  # no receipt yet; stays reserved
    skipped: int = 0  # chain not configured here, or its upstream failed this round
    rebroadcast: int = 0  # sends left unbroadcast past the grace, accepted by the node now

    @property
    def changed(self) -> int:
        return self.settled + self.reverted + self.released + self.rebroadcast


def settled_gas(send: UnsettledSend, receipt: Receipt) -> int:
    """The reserved gas (unit atoms) scaled by real / worst-case wei, rounded up, capped."""
    reserved = send.gas_reserved or 0
    if receipt.gas_wei_used is None or not send.gas_wei_reserved:
        return reserved  # nothing to scale by: keep the worst case
    scaled = -(-reserved * receipt.gas_wei_used // send.gas_wei_reserved)
    return min(reserved, scaled)


def settled_amount(send: UnsettledSend, receipt: Receipt) -> int:
    """What the reservation counts once its receipt is known."""
    amount = send.reservation.amount
    if send.gas_reserved is None:
        # Reserved before gas was recorded apart: its split is unknown, so nothing is given back.
        return amount
    gas = settled_gas(send, receipt)
    moved = amount - send.gas_reserved
    return max(0, min(amount, (moved if receipt.succeeded else 0) + gas))


class Settlement:
    """The settlement loop of one RPC app: `start`/`stop` are its on_startup/on_cleanup hooks."""

    def __init__(self, deps: RpcPlaneDeps, *, interval_s: float = 2.0, batch_size: int = 200,
                 concurrency: int = 8, finish_unbroadcast: FinishUnbroadcast | None = None,
                 ) -> None:
        self._deps = deps
        self._finish_unbroadcast = finish_unbroadcast
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._limit = asyncio.Semaphore(concurrency)
        self._cursor: tuple[int, str] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, _app: web.Application | None = None) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="settlement")

    async def stop(self, _app: web.Application | None = None) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                report = await self.run_once()
                if report.changed:
                    log.info("settlement round", extra={
                        "settled": report.settled, "reverted": report.reverted,
                        "released": report.released, "pending": report.pending,
                        "rebroadcast": report.rebroadcast})
            except Exception:  # a round must never end the loop (the database may be busy)
                log.exception("settlement round failed")
            await asyncio.sleep(self._interval_s)

    # -- one round -------------------------------------------------------------------------
    async def run_once(self) -> RoundReport:
        """Look at one page of unsettled sends (oldest first; the next round continues after
        it when it was full) and settle what the chains can tell."""
        report = RoundReport()
        if self._finish_unbroadcast is not None:
            # First, so what it marks broadcast is settled in this same round if mined.
            report.rebroadcast = await self._finish_unbroadcast(
                self._deps.clock() - self._deps.unbroadcast_grace_ms)
        page = await self._deps.store.unsettled(limit=self._batch_size, after=self._cursor)
        self._cursor = page[-1].cursor if len(page) >= self._batch_size else None
        by_chain: dict[int, list[UnsettledSend]] = {}
        for send in page:
            by_chain.setdefault(send.reservation.chain_id, []).append(send)
        for chain_id, sends in by_chain.items():
            chain = self._deps.chains.get(chain_id)
            if chain is None:
                report.skipped += len(sends)
                continue
            await self._settle_chain(chain, sends, report)
        return report

    async def _settle_chain(self, chain: ChainRuntime, sends: Sequence[UnsettledSend],
                            report: RoundReport) -> None:
        receipts = await _or_none(self._receipts(chain, sends))
        if receipts is None:
            log.warning("settlement skipped a chain: upstream failed",
                        extra={"chain_id": chain.chain_id})
            report.skipped += len(sends)
            return
        missing: list[UnsettledSend] = []
        for send, receipt in zip(sends, receipts, strict=True):
            if receipt is None:
                missing.append(send)
            else:
                await self._apply(send, receipt, report)
        if not missing:
            return
        # The nonce is read *before* the second look for the receipt: a `latest` count past
        # our nonce proves that nonce was mined by then, so if the receipt is still missing
        # afterwards, what was mined was another transaction and ours can never land.
        passed = await _or_none(self._nonce_passed(chain, missing))
        again = None if passed is None else await _or_none(self._receipts(chain, passed))
        if passed is None or again is None:
            log.warning("settlement skipped a nonce check: upstream failed",
                        extra={"chain_id": chain.chain_id})
            report.skipped += len(missing)
            return
        report.pending += len(missing) - len(passed)
        for send, receipt in zip(passed, again, strict=True):
            if receipt is not None:
                await self._apply(send, receipt, report)
            elif await self._deps.store.settle(
                    send.reservation.id, amount=0, status=ReservationStatus.RELEASED,
                    now_ms=self._deps.clock()):
                report.released += 1
                log.info("released a send whose nonce another transaction used",
                         extra={"chain_id": chain.chain_id, "tx_hash": send.tx_hash,
                                "nonce": send.reservation.nonce})

    async def _apply(self, send: UnsettledSend, receipt: Receipt, report: RoundReport) -> None:
        applied = await self._deps.store.settle(
            send.reservation.id, amount=settled_amount(send, receipt),
            status=ReservationStatus.SETTLED, now_ms=self._deps.clock(),
            gas_wei_used=receipt.gas_wei_used, receipt_status=int(receipt.succeeded))
        if applied:
            if receipt.succeeded:
                report.settled += 1
            else:
                report.reverted += 1

    # -- upstream --------------------------------------------------------------------------
    async def _receipts(self, chain: ChainRuntime,
                        sends: Sequence[UnsettledSend]) -> list[Receipt | None]:
        """Every send's receipt (None: not mined); the first failure cancels the rest."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._receipt(chain, s.tx_hash)) for s in sends]
        return [t.result() for t in tasks]

    async def _receipt(self, chain: ChainRuntime, tx_hash: str) -> Receipt | None:
        async with self._limit:
            answer = await chain.upstream.call("eth_getTransactionReceipt", [tx_hash])
        return parse_receipt(answer, l1_fee_expected=chain.l1_fee is not None)

    async def _nonce_passed(self, chain: ChainRuntime,
                            sends: Sequence[UnsettledSend]) -> list[UnsettledSend]:
        """The sends whose nonce the signer's mined count (`latest`) has passed."""
        addresses = sorted({s.address for s in sends if s.reservation.nonce is not None})
        async with asyncio.TaskGroup() as group:
            tasks = {a: group.create_task(self._mined_count(chain, a)) for a in addresses}
        mined = {a: t.result() for a, t in tasks.items()}
        return [s for s in sends
                if s.reservation.nonce is not None and s.reservation.nonce < mined[s.address]]

    async def _mined_count(self, chain: ChainRuntime, address: str) -> int:
        async with self._limit:
            answer = await chain.upstream.call("eth_getTransactionCount", [address, "latest"])
        return _quantity(answer, "transaction count")


async def _or_none(work: Awaitable[R]) -> R | None:
    """`work`'s result, or None if the upstream failed (the round skips what needed it)."""
    try:
        return await work
    except* UPSTREAM_FAILURES:
        pass
    return None


def parse_receipt(answer: Any, *, l1_fee_expected: bool = False) -> Receipt | None:
    """A JSON-RPC receipt, or None for no receipt (null, or one not in a block yet).

    The real cost is `gasUsed * effectiveGasPrice` plus the receipt's `l1Fee` when it has one
    (OP-stack nodes report the L1 data fee there). On a chain configured with an L1 fee
    (`l1_fee_expected`), a receipt without `l1Fee` does not say what the send cost: its real
    cost is unknown and the worst case stays reserved, as for a receipt without a price.
    """
    if answer is None:
        return None
    if not isinstance(answer, dict):
        raise _Malformed("receipt is not an object")
    if answer.get("blockNumber") is None or answer.get("blockHash") is None:
        return None
    status = answer.get("status")
    # Pre-Byzantium receipts carry a state root instead of a status: count them as success,
    # which keeps the assets counted (the careful reading).
    succeeded = True if status is None else _quantity(status, "receipt status") == 1
    gas_used = _quantity(answer.get("gasUsed"), "gasUsed")
    price = answer.get("effectiveGasPrice")
    gas_wei = None if price is None else gas_used * _quantity(price, "effectiveGasPrice")
    l1_fee = answer.get("l1Fee")
    if l1_fee is not None:
        gas_wei = None if gas_wei is None else gas_wei + _quantity(l1_fee, "l1Fee")
    elif l1_fee_expected:
        gas_wei = None
    return Receipt(succeeded=succeeded, gas_wei_used=gas_wei)


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise _Malformed(f"malformed {what}")
    try:
        number = int(value, 16)
    except ValueError as exc:
        raise _Malformed(f"malformed {what}") from exc
    if number < 0:
        raise _Malformed(f"malformed {what}")
    return number
