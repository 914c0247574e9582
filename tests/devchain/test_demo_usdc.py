"""The demo USDC: deterministic address, USDC-like metadata, balances, EIP-2612 permit."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from session_studio_dev import (
    ANVIL_DEFAULT_KEY,
    DEMO_USDC_DEV_ADDRESS,
    bind_contract,
    deploy_demo_usdc,
    erc20_balance,
    mint_usdc,
    send_contract_transaction,
)
from web3 import Web3
from web3.contract import Contract

pytestmark = pytest.mark.e2e

USDC = 10**6

PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


@pytest.fixture(scope="module")
def usdc(w3: Web3) -> ChecksumAddress:
    # First transaction of account 0 on this module's fresh anvil: nothing may deploy before it.
    return deploy_demo_usdc(w3)


@pytest.fixture(scope="module")
def token(w3: Web3, usdc: ChecksumAddress) -> Contract:
    return bind_contract(w3, "DemoUSDC", usdc)


def _domain(w3: Web3, usdc: ChecksumAddress) -> dict[str, object]:
    return {
        "name": "USD Coin (demo)",
        "version": "1",
        "chainId": w3.eth.chain_id,
        "verifyingContract": usdc,
    }


def test_demo_usdc_deploys_at_deterministic_address(usdc: ChecksumAddress) -> None:
    assert usdc == DEMO_USDC_DEV_ADDRESS == "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_demo_usdc_has_six_decimals_and_symbol_usdc(token: Contract) -> None:
    assert token.functions.decimals().call() == 6
    assert token.functions.symbol().call() == "USDC"
    assert token.functions.name().call() == "USD Coin (demo)"


def test_mint_and_transfer_move_balances(
    w3: Web3, usdc: ChecksumAddress, funded_account: LocalAccount
) -> None:
    recipient = Account.create().address
    mint_usdc(w3, usdc, funded_account.address, 25 * USDC)
    assert erc20_balance(w3, usdc, funded_account.address) == 25 * USDC

    send_contract_transaction(
        w3, "DemoUSDC", usdc, "transfer", recipient, 10 * USDC, sender_key=funded_account.key
    )

    assert erc20_balance(w3, usdc, funded_account.address) == 15 * USDC
    assert erc20_balance(w3, usdc, recipient) == 10 * USDC


def test_domain_separator_matches_eip712_domain(
    w3: Web3, usdc: ChecksumAddress, token: Contract
) -> None:
    # encode_typed_data puts hashStruct(domain) in the header: the value wallets sign over.
    message = {"owner": usdc, "spender": usdc, "value": 0, "nonce": 0, "deadline": 0}
    signable = encode_typed_data(_domain(w3, usdc), PERMIT_TYPES, message)
    assert token.functions.DOMAIN_SEPARATOR().call() == signable.header


def test_permit_signed_with_eth_account_sets_allowance(
    w3: Web3, usdc: ChecksumAddress, token: Contract
) -> None:
    holder = Account.create()  # needs no ether: someone else submits the permit
    spender = Account.create().address
    value = 123 * USDC
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    message = {
        "owner": holder.address,
        "spender": spender,
        "value": value,
        "nonce": token.functions.nonces(holder.address).call(),
        "deadline": deadline,
    }
    signed = Account.sign_typed_data(holder.key, _domain(w3, usdc), PERMIT_TYPES, message)

    send_contract_transaction(
        w3,
        "DemoUSDC",
        usdc,
        "permit",
        holder.address,
        spender,
        value,
        deadline,
        signed.v,
        signed.r.to_bytes(32, "big"),
        signed.s.to_bytes(32, "big"),
        sender_key=ANVIL_DEFAULT_KEY,
    )

    assert token.functions.allowance(holder.address, spender).call() == value
    assert token.functions.nonces(holder.address).call() == 1
