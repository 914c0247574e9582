"""Crash recovery: broadcast the sends that were signed but never confirmed as broadcast.

`reserve_and_sign` commits the reservation (with the signed raw transaction and its nonce)
before the broadcast, so a crash in between leaves signed transactions that no node has seen.
Their spend is reserved and they were authorised, but their nonces form a gap: every later send
of that signer would wait behind it forever. Broadcasting them on start closes the gap.

Per signer, in nonce order: a nonce the chain has passed is marked broadcast (only the sidecar
signs with that key, so the mined transaction is this one); "already known" is broadcast too;
any other refusal provably never reached the chain, so it is released and its nonce handed
out again; a silent upstream leaves it for the next start (or the settlement task).
"""

from __future__ import annotations

import logging
from itertools import groupby

from session_studio.store import ReservationStatus, UnbroadcastSend

from ._context import RpcPlaneDeps
from ._errors import UpstreamError, UpstreamUnavailable
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
        else:
            await deps.store.release(reservation, now_ms=deps.clock(), return_nonce=True)
        return 0
    except UpstreamUnavailable:
        return 0
    await deps.store.record_outcome(reservation, status=ReservationStatus.BROADCAST,
                                    now_ms=deps.clock())
    return 1
