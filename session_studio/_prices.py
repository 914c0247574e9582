"""Static prices from the configuration, as the RPC plane's `PriceOracle`.

Feed prices (Chainlink-style aggregators read through the upstream) arrive with the full policy
surface; until then a chain or token configured with a feed has no price, and whatever depends on
it is refused as `unpriceable_asset` (fail closed), never valued at a guess.
"""

from __future__ import annotations

from fractions import Fraction

from session_studio.policy import PriceBook

from ._settings import PriceSource, Settings


class StaticPriceOracle:
    def __init__(self, settings: Settings) -> None:
        prices: dict[tuple[int, str], Fraction] = {}
        for chain in settings.chains.values():
            _put(prices, chain.chain_id, chain.native_symbol, chain.native_price)
        for token in settings.tokens:
            _put(prices, token.chain_id, token.symbol, token.price)
        self._book = PriceBook(prices)

    async def price_book(self, chain_id: int) -> PriceBook:
        return self._book


def _put(prices: dict[tuple[int, str], Fraction], chain_id: int, symbol: str,
         source: PriceSource) -> None:
    if source.usd is not None:
        prices[(chain_id, symbol)] = Fraction(source.usd)
