"""Prices for the policy engine: static ones from the config and Chainlink-style feeds read
through each chain's own upstream (see `_prices.py` for what is refused and why)."""

from __future__ import annotations

from ._prices import (
    DECIMALS_SELECTOR,
    FUTURE_TOLERANCE_S,
    LATEST_ROUND_DATA_SELECTOR,
    ChainPriceOracle,
    FeedProblem,
    FeedReading,
    judge_reading,
)

__all__ = [
    "DECIMALS_SELECTOR",
    "FUTURE_TOLERANCE_S",
    "LATEST_ROUND_DATA_SELECTOR",
    "ChainPriceOracle",
    "FeedProblem",
    "FeedReading",
    "judge_reading",
]
