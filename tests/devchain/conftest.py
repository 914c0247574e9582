"""Fixtures for the dev-chain tests: one real anvil per test module.

A missing tool is a failure, never a skip: `make test` installs anvil and node, so their absence
means a broken setup that a green-with-skips run would hide.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from session_studio_dev import AnvilNode, find_anvil, fund_native
from web3 import Web3


@pytest.fixture(scope="session")
def anvil_path() -> Path:
    try:
        return find_anvil()
    except FileNotFoundError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def node_path() -> Path:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node not found on PATH: install Node.js 20+ and run `npm ci`", pytrace=False)
    return Path(found)


@pytest.fixture(scope="module")
def anvil(anvil_path: Path) -> Iterator[AnvilNode]:
    with AnvilNode(anvil_path=anvil_path) as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: AnvilNode) -> Web3:
    return anvil.web3()


@pytest.fixture
def funded_account(w3: Web3) -> LocalAccount:
    """A fresh account with 10 ether, so each test owns its balances and nonces."""
    account: LocalAccount = Account.create()
    fund_native(w3, account.address, 10 * 10**18)
    return account
