"""A fake chain upstream that answers an aggregator's two view functions, and a settable clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode

from session_studio.prices import DECIMALS_SELECTOR, LATEST_ROUND_DATA_SELECTOR
from session_studio.settings import Settings, parse_settings

NOW = 1_750_000_000  # a fixed "now" in unix seconds
FEED = "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70"
OTHER_FEED = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"
BASE, OPTIMISM = 8453, 10
MAX_AGE_S = 3600
ETH_3000 = 3000 * 10**8  # 8 decimals, as Chainlink's USD feeds


class Clock:
    """Unix seconds that only move when a test moves them."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Round:
    answer: int = ETH_3000
    updated_at: int = NOW - 60
    round_id: int = 7
    answered_in_round: int | None = None  # None: the round itself
    started_at: int | None = None  # None: updated_at

    def encoded(self) -> str:
        words = (self.round_id, self.answer, self.updated_at if self.started_at is None
                 else self.started_at, self.updated_at,
                 self.round_id if self.answered_in_round is None else self.answered_in_round)
        types = ["uint80", "int256", "uint256", "uint256", "uint80"]
        return "0x" + abi_encode(types, list(words)).hex()


@dataclass
class FakeNode:
    """Answers eth_call to aggregators in `feeds`; every call is recorded in `calls`.

    `fail` (an exception) is raised by the next calls instead of answering; `raw` replaces the
    answer to one selector with any value; `gate`, when set, holds every call until it opens.
    """

    feeds: dict[str, Round] = field(default_factory=dict)
    decimals: int = 8
    calls: list[tuple[str, str]] = field(default_factory=list)  # (feed, selector)
    fail: Exception | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    gate: asyncio.Event | None = None

    async def call(self, method: str, params: list[Any]) -> Any:
        assert method == "eth_call"
        call, block = params
        assert block == "latest"
        feed, selector = call["to"], call["data"]
        self.calls.append((feed, selector))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        if selector in self.raw:
            return self.raw[selector]
        if selector == DECIMALS_SELECTOR:
            return "0x" + abi_encode(["uint8"], [self.decimals]).hex()
        assert selector == LATEST_ROUND_DATA_SELECTOR
        return self.feeds[feed].encoded()

    def round_reads(self) -> int:
        return sum(1 for _, selector in self.calls if selector == LATEST_ROUND_DATA_SELECTOR)

    def decimals_reads(self) -> int:
        return sum(1 for _, selector in self.calls if selector == DECIMALS_SELECTOR)


class Unusable:
    """An upstream that must never be called."""

    async def call(self, method: str, params: list[Any]) -> Any:
        raise AssertionError(f"upstream called: {method} {params}")


def feed_settings(*, cache_s: float | None = 15, base_eth: str | None = None,
                  extra: str = "") -> Settings:
    """Base (8453) prices ETH by FEED, USDC statically; Optimism (10) prices ETH statically."""
    base_eth = base_eth or f'{{ feed = "{FEED}", max_age_s = {MAX_AGE_S} }}'
    prices = "" if cache_s is None else f"[prices]\ncache_s = {cache_s}\n"
    text = f"""{prices}
[chains.{BASE}]
name = "base"
rpc_url = "http://127.0.0.1:8545"
native_symbol = "ETH"
native_price = {base_eth}

[chains.{OPTIMISM}]
name = "optimism"
rpc_url = "http://127.0.0.1:9545"
native_symbol = "ETH"
native_price = {{ usd = "2999.50" }}

[[tokens]]
chain_id = {BASE}
symbol = "USDC"
address = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
decimals = 6
price = {{ usd = "1.00" }}
{extra}"""
    return parse_settings(text, config_path=Path("/srv/studio/session-studio.toml"))
