"""Crash recovery: broadcast the sends that were signed but never confirmed as broadcast.

`reserve_and_sign` commits the reservation (with the signed raw transaction and its nonce)
before the broadcast, so a crash in between leaves signed transactions that no node has seen.
Their spend is reserved and they were authorised, but their nonces form a gap: every later send
of that signer would wait behind it forever. Broadcasting them closes the gap. It runs twice:

- on start, over every such send (`signed_before_ms=None`): the process's own sends of its
  previous life, and on one SQLite file nobody else's are in flight for long;
- in every settlement round on every replica (`_settlement.py`), over the sends signed more
  than `unbroadcast_grace_ms` ago: a replica that died between commit and broadcast is replaced
  by any survivor, without a restart (issue 12). The grace is longer than a live send can take
  between its commit and its recorded outcome, so the sweep does not race a healthy owner; an
  owner paused for longer (a stopped process, a VM migration) may record its outcome after a
  survivor did, and the ledger keeps the first (`OUTCOME_FROM`, forward only).

Per signer, in nonce order: a nonce the chain has passed is marked broadcast without a send
(settlement then settles it by receipt, or releases it if another transaction took the nonce).
Everything else is rebroadcast and its answer applied by the one rule table the send path uses
too (`_outcome.py`, attempt `RECOVERY`): what differs for a rebroadcast ("nonce too low"
asks for the receipt; a silent upstream leaves the row for the next start) is written there,
with why.
"""

from __future__ import annotations

import logging
from itertools import groupby

from session_studio.store import ReservationStatus, UnbroadcastSend

from ._context import RpcPlaneDeps
from ._errors import UpstreamError, UpstreamUnavailable
from ._outcome import RECOVERY, NodeAnswer, send_raw, settle_broadcast
from ._upstream import Upstream

log = logging.getLogger("session_studio.recovery")

# The grace in upstream timeouts. After its commit a live send makes one upstream call (the
# broadcast, which the client's total timeout ends) and one ledger write for its outcome; the
# two further timeouts cover the wait for a pooled connection, a slow commit (the row's age
# counts from its signing, inside the reserving transaction) and a busy event loop.
GRACE_IN_UPSTREAM_TIMEOUTS = 3


def unbroadcast_grace_ms(upstream_timeout_s: float) -> int:
    """How old a send still `signed` or `unknown` must be before any replica finishes it:
    3 x `[server] upstream_timeout_s`, 30 s by default."""
    return round(GRACE_IN_UPSTREAM_TIMEOUTS * upstream_timeout_s * 1000)


async def rebroadcast_unconfirmed(deps: RpcPlaneDeps, *,
                                  signed_before_ms: int | None = None) -> int:
    """Broadcast what the ledger signed but never saw accepted (only what was signed before
    `signed_before_ms`, if given); returns how many the node accepted."""
    sent = 0
    pending = await deps.store.unbroadcast_sends(signed_before_ms=signed_before_ms)
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
        log.info("recovery broadcast signed transactions",
                 extra={"count": sent, "sweep": signed_before_ms is not None})
    return sent


async def _rebroadcast_one(deps: RpcPlaneDeps, upstream: Upstream, item: UnbroadcastSend,
                           on_chain: int) -> int:
    reservation = item.reservation
    if reservation.nonce is not None and reservation.nonce < on_chain:
        await deps.store.record_outcome(reservation, status=ReservationStatus.BROADCAST,
                                        now_ms=deps.clock())
        return 0
    sent = await send_raw(upstream, item.raw_tx)
    await settle_broadcast(deps.store, upstream, reservation, answer=sent.answer,
                           attempt=RECOVERY, tx_hash=item.tx_hash, now_ms=deps.clock())
    return 1 if sent.answer is NodeAnswer.ACCEPTED else 0
