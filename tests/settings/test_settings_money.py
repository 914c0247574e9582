"""Prices and the gas guard convert exactly: money never passes through a float."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from session_studio.settings import Settings

Parse = Callable[[dict[str, Any]], Settings]

positive_decimals = st.decimals(
    min_value=Decimal("0.000000001"), max_value=Decimal(10**12), places=9, allow_nan=False
).filter(lambda d: d > 0)


@given(price=positive_decimals)
def test_static_price_is_the_exact_decimal_written(
    parse: Parse, full_config: Any, price: Decimal
) -> None:
    document = full_config()
    document["tokens"][0]["price"] = {"usd": f"{price:f}"}

    assert parse(document).tokens[0].price.usd == price


@given(gwei=positive_decimals)
def test_gas_guard_converts_gwei_to_wei_exactly(
    parse: Parse, full_config: Any, gwei: Decimal
) -> None:
    document = full_config()
    document["chains"]["8453"]["max_fee_per_gas_gwei"] = f"{gwei:f}"

    assert parse(document).chains[8453].max_fee_per_gas_wei == int(gwei * 10**9)
