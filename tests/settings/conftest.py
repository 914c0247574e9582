"""Fixtures for the settings tests: a valid config touching every table, and a TOML writer.

The fixtures are session-scoped and hand out fresh copies, so hypothesis tests can use them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from session_studio.settings import ConfigError, Settings, parse_settings

BASE_USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
BASE_SEPOLIA_USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
BASE_ETH_USD_FEED = "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70"
CONFIG_PATH = Path("/srv/studio/session-studio.toml")

_FULL_CONFIG: dict[str, Any] = {
    "server": {"rpc_listen": "127.0.0.1:8645"},
    "database": {"path": "studio.db"},
    "keystore": {"master_key_file": "master.key"},
    "admin": {"rp_id": "localhost"},
    "policy": {"window": "utc_day"},
    "chains": {
        "8453": {
            "name": "base",
            "rpc_url": "http://127.0.0.1:8545",
            "native_symbol": "ETH",
            "native_price": {"usd": "3000.00"},
        },
        "84532": {
            "name": "base-sepolia",
            "rpc_url": "https://sepolia.base.org",
            "native_symbol": "ETH",
            "native_price": {"feed": BASE_ETH_USD_FEED, "max_age_s": 3600},
        },
    },
    "tokens": [
        {
            "chain_id": 8453,
            "symbol": "USDC",
            "address": BASE_USDC,
            "decimals": 6,
            "price": {"usd": "1.00"},
        },
        {
            "chain_id": 84532,
            "symbol": "USDC",
            "address": BASE_SEPOLIA_USDC,
            "decimals": 6,
            "price": {"usd": "1.00"},
        },
    ],
}

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _quote(text: str) -> str:
    """A TOML basic string; control characters as \\uXXXX."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_quote(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[ " + ", ".join(_value(v) for v in value) + " ]"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_dumps(document: dict[str, Any]) -> str:
    """The document as TOML, every table inline and every key quoted."""
    return "".join(f"{_quote(key)} = {_value(value)}\n" for key, value in document.items())


@pytest.fixture(scope="session")
def full_config() -> Callable[[], dict[str, Any]]:
    """A fresh copy of a valid config that has every kind of table in it."""
    return lambda: copy.deepcopy(_FULL_CONFIG)


@pytest.fixture(scope="session")
def config_path() -> Path:
    """Where the documents ``parse`` and ``error_for`` read claim to come from."""
    return CONFIG_PATH


@pytest.fixture(scope="session")
def parse() -> Callable[[dict[str, Any]], Settings]:
    def parse(document: dict[str, Any]) -> Settings:
        return parse_settings(toml_dumps(document), config_path=CONFIG_PATH)

    return parse


@pytest.fixture(scope="session")
def error_for() -> Callable[[dict[str, Any]], str]:
    """The ConfigError message a document produces (fails the test if it parses)."""

    def error_for(document: dict[str, Any]) -> str:
        with pytest.raises(ConfigError) as raised:
            parse_settings(toml_dumps(document), config_path=CONFIG_PATH)
        return str(raised.value)

    return error_for


@pytest.fixture(scope="session")
def toml_key() -> Callable[[str], str]:
    """One dotted-key segment as an error message shows it: bare if it can be, else quoted."""

    def toml_key(name: str) -> str:
        bare = name != "" and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
        return name if bare else _quote(name)

    return toml_key
