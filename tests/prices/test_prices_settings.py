"""The one setting of the price oracle: `[prices] cache_s`."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_studio.settings import (
    ConfigError,
    Settings,
    load_settings,
    parse_settings,
    settings_help,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.toml"
CHAIN = """
[chains.1]
name = "mainnet"
rpc_url = "http://127.0.0.1:8545"
native_symbol = "ETH"
native_price = { feed = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419", max_age_s = 3600 }
"""


def parse(prices: str) -> Settings:
    return parse_settings(prices + CHAIN, config_path=Path("/srv/studio/session-studio.toml"))


def test_cache_s_defaults_to_15_seconds() -> None:
    assert parse("").prices.cache_s == 15.0
    assert parse("[prices]\n").prices.cache_s == 15.0


@pytest.mark.parametrize(("written", "parsed"), [("1", 1.0), ("0.5", 0.5), ("0", 0.0),
                                                 ("300", 300.0)])
def test_cache_s_takes_seconds_including_zero(written: str, parsed: float) -> None:
    assert parse(f"[prices]\ncache_s = {written}\n").prices.cache_s == parsed


@pytest.mark.parametrize("value", ["-1", '"15"', "true", "nan", "inf"])
def test_bad_cache_s_fails_with_one_line_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(f"[prices]\ncache_s = {value}\n")

    message = str(raised.value)
    assert message.startswith("prices.cache_s: expected a number of seconds >= 0, got ")
    assert "\n" not in message


def test_unknown_key_in_prices_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        parse("[prices]\ncache_seconds = 15\n")

    assert str(raised.value) == "unknown key 'prices.cache_seconds'"


def test_example_config_documents_cache_s() -> None:
    assert load_settings(EXAMPLE).prices.cache_s == 15.0
    assert "\n[prices]\n" in EXAMPLE.read_text()


def test_settings_help_lists_cache_s_with_its_default() -> None:
    assert "prices.cache_s = 15\n" in settings_help()
