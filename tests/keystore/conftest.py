"""Shared fixtures for keystore tests: real master keys, real keystores, no mocks of crypto.

Module-scoped keystores are safe to share: a `LocalKeystore` holds no per-test state other
than its cache, and each test asks for its own `KeyContext`, so tests never see each other's
keys. Hypothesis tests use these module-scoped fixtures (function-scoped ones would be reused
across examples).
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest
from session_studio.keystore import KeyContext, LocalKeystore, MasterKey

RECIPIENT = "0x09616C3d61b3331fc4109a9E41a8BDB7d9776609"

_MAIL_TYPED_DATA: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [
            {"name": "name", "type": "string"},
            {"name": "wallet", "type": "address"},
        ],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}


def _dynamic_fee_tx(**overrides: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": 31337,
        "nonce": 0,
        "to": RECIPIENT,
        "value": 10**15,
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "data": "0x",
    }
    tx.update(overrides)
    return tx


@pytest.fixture(scope="module")
def master_key() -> MasterKey:
    return MasterKey.from_bytes(os.urandom(32))


@pytest.fixture(scope="module")
def keystore(master_key: MasterKey) -> LocalKeystore:
    return LocalKeystore(master_key)


@pytest.fixture(scope="module")
def uncached_keystore(master_key: MasterKey) -> LocalKeystore:
    """Same master key, no cache: every sign goes through the envelope."""
    return LocalKeystore(master_key, cache_size=0)


@pytest.fixture(scope="module")
def new_context() -> Callable[[], KeyContext]:
    """Hands out a context no other test uses."""
    counter = itertools.count()

    def make() -> KeyContext:
        n = next(counter)
        return KeyContext(workspace_id=f"ws-{n}", session_id=f"sess-{n}")

    return make


@pytest.fixture(scope="session")
def make_tx() -> Callable[..., dict[str, Any]]:
    """Builds a valid EIP-1559 transfer in eth-account's dict format; keywords override fields."""
    return _dynamic_fee_tx


@pytest.fixture(scope="session")
def make_typed_data() -> Callable[[], dict[str, Any]]:
    """Builds the EIP-712 specification's "Ether Mail" example as a full message; a fresh copy."""
    return lambda: copy.deepcopy(_MAIL_TYPED_DATA)


@pytest.fixture
def ctx(new_context: Callable[[], KeyContext]) -> KeyContext:
    return new_context()
