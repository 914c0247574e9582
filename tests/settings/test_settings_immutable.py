"""Settings are parsed once and cannot be changed afterwards."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from session_studio.settings import ListenAddress, Settings

Parse = Callable[[dict[str, Any]], Settings]


def test_settings_fields_cannot_be_assigned(parse: Parse, full_config: Any) -> None:
    settings = parse(full_config())

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.tokens = ()  # type: ignore[misc]


def test_nested_settings_cannot_be_assigned(parse: Parse, full_config: Any) -> None:
    settings = parse(full_config())

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.server.allow_raw_transactions = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.chains[8453].native_price.usd = None  # type: ignore[misc]


def test_settings_accept_no_new_attributes(parse: Parse, full_config: Any) -> None:
    settings = parse(full_config())

    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        settings.extra = 1  # type: ignore[attr-defined]


def test_chains_mapping_cannot_be_modified(parse: Parse, full_config: Any) -> None:
    chains: Any = parse(full_config()).chains
    chain = dataclasses.replace(chains[8453], chain_id=1, name="mainnet")

    with pytest.raises(TypeError):
        chains[1] = chain
    with pytest.raises(TypeError):
        del chains[8453]


def test_tokens_are_a_tuple(parse: Parse, full_config: Any) -> None:
    assert isinstance(parse(full_config()).tokens, tuple)


def test_settings_are_hashable_values(parse: Parse, full_config: Any) -> None:
    listen = parse(full_config()).server.rpc_listen

    assert hash(listen) == hash(ListenAddress(host="127.0.0.1", port=8645))
