"""The chain's fee figures for filling a transaction, fetched once per short interval.

Filling an EIP-1559 transaction the way web3.py does (priority fee plus twice the latest base
fee, CONVENTIONS.md) asks the node two questions, `eth_maxPriorityFeePerGas` and the latest
block's `baseFeePerGas`, on every send. Their answers change at most once per block, so each
chain keeps the last answer for `ttl_s` (1 s: a block or less on L1 and on the OP-stack chains
we serve) and concurrent sends share one fetch in flight. Why staleness costs nothing in money:
the base fee moves at most 12.5% per block, the doubled base fee absorbs several blocks of
rises, and the policy values the worst case from the fees actually signed, whatever their
source. A failed fetch is never kept: the next send asks again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._errors import UpstreamUnavailable
from ._upstream import Upstream, upstream_quantity

DEFAULT_TTL_S = 1.0


@dataclass(frozen=True, slots=True)
class FeeFigures:
    priority: int  # wei, eth_maxPriorityFeePerGas
    base: int  # wei, baseFeePerGas of the latest block


class FeeCache:
    """One chain's latest fee figures, at most `ttl_s` old (0: asked every time)."""

    def __init__(self, upstream: Upstream, *, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._upstream = upstream
        self._ttl_s = ttl_s
        self._clock = clock
        self._figures: FeeFigures | None = None
        self._fetched_at = 0.0
        self._in_flight: asyncio.Task[FeeFigures] | None = None

    async def figures(self) -> FeeFigures:
        """Fresh enough figures; UpstreamError / UpstreamUnavailable if the node cannot say."""
        if self._figures is not None and self._clock() - self._fetched_at < self._ttl_s:
            return self._figures
        if self._in_flight is None:
            self._in_flight = asyncio.create_task(self._fetch())
            self._in_flight.add_done_callback(self._landed)
        return await asyncio.shield(self._in_flight)

    async def _fetch(self) -> FeeFigures:
        asked_at = self._clock()
        priority_hex, block = await asyncio.gather(
            self._upstream.call("eth_maxPriorityFeePerGas", []),
            self._upstream.call("eth_getBlockByNumber", ["latest", False]))
        if not isinstance(block, dict):
            raise UpstreamUnavailable("upstream answered eth_getBlockByNumber without a block")
        figures = FeeFigures(
            priority=upstream_quantity(priority_hex, "eth_maxPriorityFeePerGas"),
            base=upstream_quantity(block.get("baseFeePerGas"), "baseFeePerGas"))
        self._figures, self._fetched_at = figures, asked_at
        return figures

    def _landed(self, task: asyncio.Task[FeeFigures]) -> None:
        self._in_flight = None
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter re-raises it from the shield
