"""Crash recovery: broadcast the sends that were signed but never confirmed as broadcast.

`reserve_and_sign` commits the reservation (with the signed raw transaction and its nonce)
before the broadcast, so a crash in between leaves signed transactions that no node has seen.
Their spend is reserved and they were authorised, but their nonces form a gap: every later send
of that signer would wait behind it forever. Broadcasting them on start closes the gap.

Per signer, in nonce order: a nonce the chain has passed is marked broadcast (settlement then
settles it by receipt, or releases it if another transaction took the nonce); "already known"
(in any client's wording, `_node_errors.py`) is broadcast too. "Nonce too low" is not proof of
anything: the count was read before the loop, and broadcasting an earlier nonce can let the
node mine a later one it held queued behind the gap, so the transaction's receipt decides:
mined -> broadcast (settlement settles it); otherwise `unknown`, and settlement releases it
(without handing the nonce out again) once its own check shows another transaction used it.
Any other refusal provably never reached the chain, so it is released and its nonce handed out
again; a silent upstream leaves it for the next start (or the settlement task).
"""

from __future__ import annotations

import logging
from itertools import groupby

from session_studio.store import ReservationStatus, UnbroadcastSend

from ._context import RpcPlaneDeps
from ._errors import UpstreamError, UpstreamUnavailable
from ._settlement import UPSTREAM_FAILURES, parse_receipt
from ._upstream import Upstream

log = logging.getLogger("session_studio.recovery")


async def rebroadcast_unconfirmed(deps: RpcPlaneDeps) -> int:
    """Broadcast what the ledger signed but never saw accepted; returns how many were sent."""
    sent = 0
    pending = await deps.store.unbroadcast_sends()
    for (chain_id, address), group in groupby(
        pending, key=lambda p: (p.reservation.chain_id, p.address)
    ):
        chain = deps.chains.get(chain_id)
        if chain is None:
            continue
        try:
            on_chain = int(await chain.upstream.call("eth_getTransactionCount",
                                                     [address, "latest"]), 16)
        except (UpstreamUnavailable, UpstreamError, ValueError, TypeError):
            log.warning("recovery skipped a signer: upstream unavailable",
                        extra={"chain_id": chain_id})
            continue
        for item in group:
            sent += await _rebroadcast_one(deps, chain.upstream, item, on_chain)
    if sent:
        log.info("recovery broadcast signed transactions", extra={"count": sent})
    return sent


async def _rebroadcast_one(deps: RpcPlaneDeps, upstream: Upstream, item: UnbroadcastSend,
                           on_chain: int) -> int:
    reservation = item.reservation
    if reservation.nonce is not None and reservation.nonce < on_chain:
        await deps.store.record_outcome(reservation, status=ReservationStatus.BROADCAST,
                                        now_ms=deps.clock())
        return 0
    try:
        await upstream.call("eth_sendRawTransaction", ["0x" + item.raw_tx.hex()])
    except UpstreamError as exc:
        if exc.already_known:
            await deps.store.record_outcome(reservation, status=ReservationStatus.BROADCAST,
                                            now_ms=deps.clock())
        elif exc.stale_nonce:
            await _settle_stale_nonce(deps, upstream, item)
        else:
            await deps.store.release(reservation, now_ms=deps.clock(), return_nonce=True)
        return 0
    except UpstreamUnavailable:
        return 0
    await deps.store.record_outcome(reservation, status=ReservationStatus.BROADCAST,
                                    now_ms=deps.clock())
    return 1


async def _settle_stale_nonce(deps: RpcPlaneDeps, upstream: Upstream,
                              item: UnbroadcastSend) -> None:
    """The nonce is used on chain; whether by this transaction only its receipt can say.

    Mined: `broadcast`, and settlement settles it to its real cost. Otherwise (no receipt, or
    no answer) `unknown`, never a release from here: settlement releases it (nonce not handed
    out again) only after its own count-then-receipt check, a round later, so a receipt that
    a lagging node indexes late still counts."""
    try:
        mined = parse_receipt(await upstream.call("eth_getTransactionReceipt",
                                                  [item.tx_hash])) is not None
    except UPSTREAM_FAILURES:
        mined = False
    await deps.store.record_outcome(
        item.reservation, now_ms=deps.clock(),
        status=ReservationStatus.BROADCAST if mined else ReservationStatus.UNKNOWN)
    if mined:
        log.info("recovery found a transaction mined before its rebroadcast",
                 extra={"chain_id": item.reservation.chain_id, "tx_hash": item.tx_hash})
