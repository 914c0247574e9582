"""Bad values: each fails with one line naming the dotted key and the problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

ErrorFor = Callable[[dict[str, Any]], str]
BASE_USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


def test_bad_chain_rpc_url_names_the_chain_key(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["rpc_url"] = "foo"

    assert error_for(document) == "chains.8453.rpc_url: expected an http(s) URL, got 'foo'"


def test_websocket_rpc_url_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["rpc_url"] = "ws://127.0.0.1:8546"

    assert error_for(document).startswith("chains.8453.rpc_url: expected an http(s) URL")


def test_listen_without_port_names_the_server_key(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"rpc_listen": "127.0.0.1"}

    assert error_for(document) == "server.rpc_listen: expected host:port, got '127.0.0.1'"


def test_listen_port_above_65535_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"admin_listen": "localhost:65536"}

    assert error_for(document).startswith("server.admin_listen: expected host:port")


def test_unbracketed_ipv6_listen_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"metrics_listen": "::1:9646"}

    assert error_for(document).startswith("server.metrics_listen: expected host:port")


def test_token_decimals_out_of_range_names_the_token_index(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["tokens"][1]["decimals"] = 37

    assert error_for(document) == "tokens[1].decimals: expected an integer 0..36, got 37"


def test_boolean_is_not_an_integer(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["decimals"] = True

    assert error_for(document) == "tokens[0].decimals: expected an integer 0..36, got True"


def test_string_setting_refuses_a_number(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["name"] = 8453

    assert error_for(document) == "chains.8453.name: expected a string, got 8453"


def test_float_price_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["price"] = {"usd": 1.0}

    assert error_for(document) == (
        'tokens[0].price.usd: expected a decimal string > 0 like "3000.00" '
        "(money is never a float), got 1.0"
    )


def test_float_native_price_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["native_price"] = {"usd": 3000.0}

    assert error_for(document).startswith("chains.8453.native_price.usd: expected a decimal string")


@pytest.mark.parametrize("price", ["0", "0.00", "-1", "1e3", "NaN", "Infinity", "1_000", " 1"])
def test_price_that_is_not_a_positive_plain_decimal_is_refused(
    error_for: ErrorFor, full_config: Any, price: str
) -> None:
    document = full_config()
    document["tokens"][0]["price"] = {"usd": price}

    assert error_for(document).startswith("tokens[0].price.usd: expected a decimal string > 0")


def test_price_with_both_usd_and_feed_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["price"] = {"usd": "1.00", "feed": BASE_USDC, "max_age_s": 60}

    assert error_for(document) == "tokens[0].price: expected exactly one of usd or feed"


def test_price_with_neither_usd_nor_feed_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["native_price"] = {}

    assert error_for(document) == "chains.8453.native_price: expected exactly one of usd or feed"


def test_price_that_is_not_a_table_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["native_price"] = "3000.00"

    assert error_for(document).startswith("chains.8453.native_price: expected a table like")


def test_feed_without_max_age_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    del document["chains"]["84532"]["native_price"]["max_age_s"]

    assert error_for(document) == "chains.84532.native_price.max_age_s: required with feed"


def test_max_age_with_static_price_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["price"]["max_age_s"] = 60

    assert error_for(document) == "tokens[0].price.max_age_s: only valid with feed, not usd"


def test_float_gas_guard_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["max_fee_per_gas_gwei"] = 1.5

    assert error_for(document).startswith("chains.8453.max_fee_per_gas_gwei: expected gwei > 0")


def test_gas_guard_finer_than_one_wei_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["max_fee_per_gas_gwei"] = "0.0000000001"

    assert error_for(document).startswith(
        "chains.8453.max_fee_per_gas_gwei: expected at most 9 decimal places"
    )


def test_mixed_case_address_with_bad_checksum_is_refused(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["tokens"][0]["address"] = BASE_USDC.replace("fCD6", "fcD6")

    assert error_for(document).startswith("tokens[0].address: bad EIP-55 checksum")


def test_uppercase_address_is_accepted_without_checksum(
    full_config: Any, parse: Callable[[dict[str, Any]], Any]
) -> None:
    document = full_config()
    document["tokens"][0]["address"] = "0x" + BASE_USDC[2:].upper()

    assert parse(document).tokens[0].address == BASE_USDC


def test_address_of_wrong_length_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["address"] = BASE_USDC[:-2]

    assert error_for(document) == (
        f"tokens[0].address: expected a 0x-prefixed 20-byte hex address, got '{BASE_USDC[:-2]}'"
    )


def test_zero_token_address_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["address"] = "0x" + "0" * 40

    assert error_for(document).startswith("tokens[0].address: expected a contract address")


def test_bad_feed_address_names_the_feed_key(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["84532"]["native_price"]["feed"] = "chainlink"

    assert error_for(document).startswith("chains.84532.native_price.feed: expected a 0x-prefixed")


def test_token_on_an_unconfigured_chain_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][1]["chain_id"] = 1

    assert error_for(document) == (
        "tokens[1].chain_id: chain 1 is not configured (configured: 8453, 84532)"
    )


def test_duplicate_token_symbol_on_one_chain_is_refused(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["tokens"][1]["chain_id"] = 8453

    assert error_for(document) == "tokens[1].symbol: 'USDC' is already tokens[0] on chain 8453"


def test_duplicate_token_address_on_one_chain_is_refused(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["tokens"][1] = {**document["tokens"][0], "symbol": "USDbC"}
    document["tokens"][1]["address"] = BASE_USDC.lower()

    assert error_for(document) == (
        f"tokens[1].address: {BASE_USDC} is already tokens[0] on chain 8453"
    )


def test_token_named_like_the_native_coin_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["symbol"] = "ETH"

    assert error_for(document) == "tokens[0].symbol: 'ETH' is the native symbol of chain 8453"


def test_symbol_shaped_like_an_address_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["tokens"][0]["symbol"] = BASE_USDC

    assert error_for(document).startswith(
        "tokens[0].symbol: expected a symbol of at most 32 characters without spaces"
    )


def test_config_without_chains_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    del document["chains"]
    del document["tokens"]

    assert error_for(document) == "chains: at least one [chains.<chain_id>] table is required"


def test_empty_chains_table_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"] = {}
    del document["tokens"]

    assert error_for(document) == "chains: at least one [chains.<chain_id>] table is required"


@pytest.mark.parametrize("name", ["base", "0", "08453", "-1", "8453.5"])
def test_chain_table_not_named_by_a_chain_id_is_refused(
    error_for: ErrorFor, full_config: Any, name: str
) -> None:
    document = full_config()
    document["chains"][name] = document["chains"].pop("8453")
    del document["tokens"]

    assert "expected a chain id" in error_for(document)
    assert error_for(document).startswith("chains.")


def test_missing_required_key_is_named(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    del document["chains"]["8453"]["native_symbol"]

    assert error_for(document) == "chains.8453.native_symbol: required key is missing"


def test_section_that_is_not_a_table_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["server"] = "127.0.0.1:8645"

    assert error_for(document) == "server: expected a table, got '127.0.0.1:8645'"


def test_database_path_and_url_together_are_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["database"] = {"path": "studio.db", "url": "postgresql://db/studio"}

    assert error_for(document) == "database: expected exactly one of path or url"


def test_database_url_that_is_not_postgresql_is_refused(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["database"] = {"url": "mysql://db/studio"}

    assert error_for(document) == (
        "database.url: expected a postgresql:// URL, got 'mysql://db/studio'"
    )


def test_a_database_pool_of_no_connections_is_refused(error_for: ErrorFor,
                                                     full_config: Any) -> None:
    document = full_config()
    document["database"] = {"url": "postgresql://db/studio", "pool_size": 0}

    assert error_for(document).startswith("database.pool_size: ")


def test_rp_id_outside_the_origin_host_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["admin"] = {"rp_id": "example.com", "origin": "https://studio.example.org"}

    assert error_for(document).startswith("admin.rp_id: 'example.com' is not the host of")


def test_rp_id_may_be_a_parent_domain_of_the_origin(
    full_config: Any, parse: Callable[[dict[str, Any]], Any]
) -> None:
    document = full_config()
    document["admin"] = {"rp_id": "example.com", "origin": "https://studio.example.com"}

    assert parse(document).admin.rp_id == "example.com"


def test_origin_with_a_path_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["admin"] = {"origin": "http://localhost:8646/admin"}

    assert error_for(document).startswith("admin.origin: expected an origin")


def test_unknown_policy_window_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["policy"] = {"window": "weekly"}

    assert error_for(document) == (
        "policy.window: expected 'rolling_24h' or 'utc_day', got 'weekly'"
    )


@pytest.mark.parametrize("bound", [-1, 1001, True, "4"])
def test_out_of_range_max_outstanding_signed_is_refused(error_for: ErrorFor, full_config: Any,
                                                        bound: Any) -> None:
    document = full_config()
    document["policy"] = {"max_outstanding_signed": bound}

    assert error_for(document).startswith(
        "policy.max_outstanding_signed: expected an integer 0..1000, got ")


def test_non_positive_upstream_timeout_is_refused(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["server"] = {"upstream_timeout_s": 0}

    assert error_for(document) == (
        "server.upstream_timeout_s: expected a number of seconds > 0, got 0"
    )


def test_non_boolean_raw_transaction_switch_is_refused(
    error_for: ErrorFor, full_config: Any
) -> None:
    document = full_config()
    document["server"] = {"allow_raw_transactions": "yes"}

    assert error_for(document) == (
        "server.allow_raw_transactions: expected true or false, got 'yes'"
    )


def test_long_bad_value_is_shortened_to_one_line(error_for: ErrorFor, full_config: Any) -> None:
    document = full_config()
    document["chains"]["8453"]["rpc_url"] = "x\n" * 200

    message = error_for(document)

    assert "\n" not in message
    assert len(message) < 160
