"""Unknown keys are refused at every level, with their dotted name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

ErrorFor = Callable[[dict[str, Any]], str]

# (path into the document, the dotted name errors use, the keys that level declares)
_SECTION_KEYS = {
    "server": {
        "rpc_listen",
        "admin_listen",
        "metrics_listen",
        "public_rpc_url",
        "max_body_bytes",
        "max_batch_size",
        "upstream_timeout_s",
        "allow_raw_transactions",
    },
    "database": {"path", "url"},
    "keystore": {"master_key_file"},
    "admin": {"rp_id", "origin"},
    "policy": {"window", "max_outstanding_signed"},
}
_CHAIN_KEYS = {
    "name",
    "rpc_url",
    "native_symbol",
    "native_decimals",
    "native_price",
    "max_fee_per_gas_gwei",
}
_TOKEN_KEYS = {"chain_id", "symbol", "address", "decimals", "price"}
_PRICE_KEYS = {"usd", "feed", "max_age_s"}
LEVELS: list[tuple[tuple[str | int, ...], str, set[str]]] = [
    ((), "", {*_SECTION_KEYS, "chains", "tokens"}),
    *((((name,), name, keys)) for name, keys in _SECTION_KEYS.items()),
    (("chains", "8453"), "chains.8453", _CHAIN_KEYS),
    (("chains", "8453", "native_price"), "chains.8453.native_price", _PRICE_KEYS),
    (("chains", "84532", "native_price"), "chains.84532.native_price", _PRICE_KEYS),
    (("tokens", 1), "tokens[1]", _TOKEN_KEYS),
    (("tokens", 0, "price"), "tokens[0].price", _PRICE_KEYS),
]


def _table_at(document: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    table: Any = document
    for step in path:
        table = table[step]
    return table  # type: ignore[no-any-return]


def _dotted(prefix: str, segment: str) -> str:
    return f"{prefix}.{segment}" if prefix else segment


@pytest.mark.parametrize(
    ("path", "prefix"), [(path, prefix) for path, prefix, _ in LEVELS], ids=lambda v: str(v)
)
def test_misspelt_key_is_refused_at_every_level(
    error_for: ErrorFor, full_config: Any, path: tuple[str | int, ...], prefix: str
) -> None:
    document = full_config()
    _table_at(document, path)["rpc_lissen"] = "127.0.0.1:8645"

    assert error_for(document) == f"unknown key '{_dotted(prefix, 'rpc_lissen')}'"


def test_unknown_key_is_reported_before_a_missing_one(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["chains"]["8453"]["rpc_ulr"] = document["chains"]["8453"].pop("rpc_url")

    assert error_for(document) == "unknown key 'chains.8453.rpc_ulr'"


@given(level=st.sampled_from(LEVELS), name=st.text(max_size=20))
def test_any_extra_key_is_refused_with_its_dotted_name(
    error_for: ErrorFor,
    full_config: Any,
    toml_key: Callable[[str], str],
    level: tuple[tuple[str | int, ...], str, set[str]],
    name: str,
) -> None:
    path, prefix, declared = level
    if name in declared:
        return
    document = full_config()
    _table_at(document, path)[name] = 1

    message = error_for(document)

    assert message == f"unknown key '{_dotted(prefix, toml_key(name))}'"
    assert "\n" not in message


@given(name=st.text(min_size=1, max_size=20))
def test_any_chain_table_name_that_is_not_a_chain_id_is_refused_by_name(
    error_for: ErrorFor, full_config: Any, toml_key: Callable[[str], str], name: str
) -> None:
    if name.isascii() and name.isdigit():
        return
    document = full_config()
    document["chains"][name] = document["chains"]["8453"]

    message = error_for(document)

    assert message.startswith(f"chains.{toml_key(name)}: expected a chain id")
    assert "\n" not in message
