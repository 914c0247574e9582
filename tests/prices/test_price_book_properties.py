"""Property: a chain's price book holds a (chain, symbol) price only while its own source is usable.

Issue 10 item 5: a stale feed used to fall back to another chain's (or a static) price for the
same symbol. Over random configurations (several chains sharing symbols, each (chain, symbol)
priced statically, by a fresh feed, a stale feed or an unreadable one), the book answered for a
chain yields a price for (chain, symbol) exactly when that pair's own source is static or a
fresh feed, and then that source's price; nothing for other chains; and a conversion into a
limit unit is possible only when both sides have their own usable price on the request's chain.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_studio.policy import USD, Asset, value_in_unit
from session_studio.proxy._errors import UpstreamError

from session_studio.prices import DECIMALS_SELECTOR, ChainPriceOracle
from session_studio.settings import parse_settings

from .fakes import MAX_AGE_S, NOW, Clock

CHAINS = (10, 8453, 42161)
SYMBOLS = ("ETH", "USDC", "WBTC")
KINDS = ("static", "fresh", "stale", "unreadable")


@dataclass(frozen=True)
class Source:
    kind: str  # one of KINDS
    usd: int  # the static price, or the feed's answer in whole USD

    @property
    def usable(self) -> bool:
        return self.kind in ("static", "fresh")


class FeedNode:
    """Answers each feed address with its own round; an unreadable feed reverts."""

    def __init__(self, rounds: dict[str, tuple[int, int] | None]) -> None:
        self.rounds = rounds  # feed address -> (answer, updatedAt), None: reverts

    async def call(self, method: str, params: list[Any]) -> Any:
        assert method == "eth_call"
        feed, selector = params[0]["to"], params[0]["data"]
        found = self.rounds[feed]
        if found is None:
            raise UpstreamError({"code": 3, "message": "execution reverted"})
        if selector == DECIMALS_SELECTOR:
            return "0x" + abi_encode(["uint8"], [8]).hex()
        answer, updated_at = found
        return "0x" + abi_encode(["uint80", "int256", "uint256", "uint256", "uint80"],
                                 [1, answer, updated_at, updated_at, 1]).hex()


def feed_address(index: int) -> str:
    return "0x" + f"{index + 1:040x}"


def config(table: dict[tuple[int, str], Source]) -> tuple[str, dict[str, tuple[int, int] | None]]:
    """TOML for the table (the first symbol of each chain is its native coin) and the feeds."""
    rounds: dict[str, tuple[int, int] | None] = {}

    def price(source: Source) -> str:
        if source.kind == "static":
            return f'{{ usd = "{source.usd}" }}'
        address = feed_address(len(rounds))
        age = {"fresh": 10, "stale": 2 * MAX_AGE_S}.get(source.kind)
        rounds[address] = None if age is None else (source.usd * 10**8, NOW - age)
        return f'{{ feed = "{address}", max_age_s = {MAX_AGE_S} }}'

    lines: list[str] = []
    chains = sorted({chain for chain, _ in table})
    for chain in chains:
        native = next(s for c, s in sorted(table) if c == chain)
        lines += [f"[chains.{chain}]", f'name = "c{chain}"', 'rpc_url = "http://127.0.0.1:1"',
                  f'native_symbol = "{native}"',
                  f"native_price = {price(table[(chain, native)])}"]
    for index, ((chain, symbol), source) in enumerate(sorted(table.items())):
        native = next(s for c, s in sorted(table) if c == chain)
        if symbol == native:
            continue
        lines += ["[[tokens]]", f"chain_id = {chain}", f'symbol = "{symbol}"',
                  f'address = "0x{0xAA00 + index:040x}"', "decimals = 6",
                  f"price = {price(source)}"]
    return "\n".join(lines) + "\n", rounds


tables = st.dictionaries(
    keys=st.tuples(st.sampled_from(CHAINS), st.sampled_from(SYMBOLS)),
    values=st.builds(Source, kind=st.sampled_from(KINDS), usd=st.integers(1, 100_000)),
    min_size=1, max_size=len(CHAINS) * len(SYMBOLS))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables)
def test_the_book_only_yields_prices_whose_own_source_is_usable(
        table: dict[tuple[int, str], Source]) -> None:
    text, rounds = config(table)
    chains = sorted({chain for chain, _ in table})
    node = FeedNode(rounds)
    oracle = ChainPriceOracle(parse_settings(text, config_path=Path("/srv/s.toml")),
                              upstreams=dict.fromkeys(chains, node), clock=Clock())

    for chain in chains:
        book = asyncio.run(oracle.price_book(chain))
        for other in CHAINS:
            for symbol in SYMBOLS:
                source = table.get((other, symbol))
                own = (Fraction(source.usd) if other == chain and source is not None
                       and source.usable else None)
                assert book.price(other, symbol) == own
            for unit in SYMBOLS:
                unit_source = table.get((chain, unit))
                expected_unit = (Fraction(unit_source.usd) if unit_source is not None
                                 and unit_source.usable else None)
                assert book.unit_price(chain, unit) == expected_unit
        for (asset_chain, symbol), source in table.items():
            if asset_chain != chain:
                continue
            asset = Asset(chain_id=chain, symbol=symbol, decimals=6)
            for unit in (USD, *SYMBOLS):
                value = value_in_unit(asset, 10**6, unit, book)
                unit_source = table.get((chain, unit))
                unit_usable = unit == USD or (unit_source is not None and unit_source.usable)
                if unit == symbol:
                    assert value == 10**18  # its own unit: no price involved
                elif value is not None:
                    assert source.usable and unit_usable
