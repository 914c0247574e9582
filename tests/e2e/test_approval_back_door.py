"""Approvals through the back door (POLICY.md catalogue 11), tried against the running sidecar.

A session allowed to call a contract must not be able to hand that contract's assets to
someone else with an approval selector: `setApprovalForAll(operator, true)` is refused wherever
it is sent, and `approve`, `increaseAllowance` and Permit2's `approve` are decoded and valued
wherever they are sent, so a `contract_call` allowlist never waves one through unvalued. Each
attack checks the JSON-RPC refusal and, on chain, that no approval exists and no nonce moved.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from session_studio_dev import (
    bind_contract,
    deploy_contract,
    deploy_demo_usdc,
    mint_usdc,
    send_contract_transaction,
)
from web3 import Web3

from .harness import PRIMARY_CHAIN, Studio
from .rpc_client import (
    TOKEN_FEES,
    UINT256_MAX,
    assert_policy_denied,
    fresh_address,
    mined,
    send,
)

pytestmark = pytest.mark.e2e

SET_APPROVAL_FOR_ALL = "0xa22cb465"
APPROVE = "0x095ea7b3"
PERMIT2_APPROVE = "0x87517c45"


@pytest.fixture(scope="module")
def nft(studio: Studio) -> str:
    """A DemoNFT collection on the primary chain: a contract a session may be allowed to call."""
    return str(deploy_contract(studio.chain_web3(), "DemoNFT")).lower()


@pytest.fixture(scope="module")
def unknown_token(studio: Studio) -> str:
    """A second ERC-20 on the primary chain that the sidecar's config does not know."""
    return str(deploy_demo_usdc(studio.chain_web3())).lower()


@pytest.fixture
def nft_holder(studio: Studio, nft: str) -> dict[str, Any]:
    """A session that may call the NFT contract (any selector) and owns a token there."""
    session = studio.create_session(type_="app", permissions="transfer,contract_call",
                                    contracts=nft)
    session["nft_id"] = next(_NFT_IDS)
    send_contract_transaction(studio.chain_web3(), "DemoNFT", nft, "mint",
                              Web3.to_checksum_address(session["address"]), session["nft_id"])
    return session


_NFT_IDS = iter(range(1, 10**6))


def _nft(studio: Studio, nft: str) -> Any:
    return bind_contract(studio.chain_web3(), "DemoNFT", nft)


def _call(session: dict[str, Any], to: str, selector: str, types: list[str],
          args: list[Any]) -> dict[str, Any]:
    data = selector + abi_encode(types, args).hex()
    return {"from": session["address"], "to": to, "data": data, **TOKEN_FEES}


def _nonce(studio: Studio, session: dict[str, Any]) -> int:
    return int(studio.chain_web3().eth.get_transaction_count(session["address"], "pending"))


def _approved_for_all(studio: Studio, nft: str, owner: str, operator: str) -> bool:
    return bool(_nft(studio, nft).functions.isApprovedForAll(
        Web3.to_checksum_address(owner), Web3.to_checksum_address(operator)).call())


def test_set_approval_for_all_to_an_allowlisted_nft_contract_is_refused(
        studio: Studio, nft: str, nft_holder: dict[str, Any]) -> None:
    attacker = fresh_address()
    tx = _call(nft_holder, nft, SET_APPROVAL_FOR_ALL, ["address", "bool"], [attacker, True])
    error = assert_policy_denied(send(studio, nft_holder, tx), "permission_denied")
    assert "setApprovalForAll" in error["data"]["detail"]
    assert not _approved_for_all(studio, nft, nft_holder["address"], attacker)
    assert _nonce(studio, nft_holder) == 0


def test_set_approval_for_all_is_refused_even_when_its_selector_is_allowlisted(
        studio: Studio, nft: str) -> None:
    session = studio.create_session(type_="app", permissions="approve,contract_call",
                                    contracts=f"{nft}:{SET_APPROVAL_FOR_ALL}")
    attacker = fresh_address()
    tx = _call(session, nft, SET_APPROVAL_FOR_ALL, ["address", "bool"], [attacker, True])
    assert_policy_denied(send(studio, session, tx), "permission_denied")
    assert not _approved_for_all(studio, nft, session["address"], attacker)
    assert _nonce(studio, session) == 0


def test_set_approval_for_all_revocation_is_still_an_allowlisted_call(
        studio: Studio, nft: str, nft_holder: dict[str, Any]) -> None:
    # Withdrawing an operator grants nothing: it stays an ordinary allowlisted contract call.
    operator = fresh_address()
    tx = _call(nft_holder, nft, SET_APPROVAL_FOR_ALL, ["address", "bool"], [operator, False])
    assert mined(studio, send(studio, nft_holder, tx))["status"] == 1


def test_nft_approve_through_a_contract_call_allowlist_is_refused(
        studio: Studio, nft: str, nft_holder: dict[str, Any]) -> None:
    # ERC-721 `approve(to, tokenId)` shares ERC-20's selector: it is an approval, never a call.
    attacker = fresh_address()
    nft_id = nft_holder["nft_id"]
    tx = _call(nft_holder, nft, APPROVE, ["address", "uint256"], [attacker, nft_id])
    assert_policy_denied(send(studio, nft_holder, tx), "permission_denied")
    assert int(_nft(studio, nft).functions.getApproved(nft_id).call(), 16) == 0
    assert _nonce(studio, nft_holder) == 0


def test_unlimited_approve_of_an_unknown_token_allowlisted_as_a_contract_is_refused(
        studio: Studio, unknown_token: str) -> None:
    session = studio.create_session(type_="app", permissions="approve,contract_call",
                                    contracts=unknown_token)
    mint_usdc(studio.chain_web3(), unknown_token, session["address"], 10**12)
    token = bind_contract(studio.chain_web3(), "DemoUSDC", unknown_token)
    attacker = fresh_address()
    for selector in (APPROVE, "0x39509351"):  # approve, increaseAllowance
        tx = _call(session, unknown_token, selector, ["address", "uint256"],
                   [attacker, UINT256_MAX])
        assert_policy_denied(send(studio, session, tx), "permission_denied")
    assert token.functions.allowance(session["address"], attacker).call() == 0
    assert _nonce(studio, session) == 0


def test_bounded_approve_of_an_unknown_token_allowlisted_as_a_contract_is_unpriceable(
        studio: Studio, unknown_token: str) -> None:
    # Even an allowlisted selector cannot make an allowance of an asset nobody can price free.
    session = studio.create_session(type_="app", permissions="approve,contract_call",
                                    contracts=f"{unknown_token}:{APPROVE}")
    token = bind_contract(studio.chain_web3(), "DemoUSDC", unknown_token)
    attacker = fresh_address()
    tx = _call(session, unknown_token, APPROVE, ["address", "uint256"], [attacker, 10**6])
    assert_policy_denied(send(studio, session, tx), "unpriceable_asset")
    assert token.functions.allowance(session["address"], attacker).call() == 0
    assert _nonce(studio, session) == 0


def test_permit2_approve_sent_to_an_allowlisted_contract_is_valued_as_an_approval(
        studio: Studio, nft: str) -> None:
    # Permit2's `approve` shape sent elsewhere than Permit2 is judged as the approval it says.
    session = studio.create_session(type_="app", permissions="approve,contract_call",
                                    contracts=nft, per_tx="50")
    usdc = studio.usdc[PRIMARY_CHAIN]
    spender = fresh_address()
    types = ["address", "address", "uint160", "uint48"]
    unlimited = _call(session, nft, PERMIT2_APPROVE, types, [usdc, spender, 2**160 - 1, 0])
    assert_policy_denied(send(studio, session, unlimited), "permission_denied")
    over_cap = _call(session, nft, PERMIT2_APPROVE, types, [usdc, spender, 51 * 10**6, 0])
    assert_policy_denied(send(studio, session, over_cap), "per_tx_limit_exceeded")
    assert _nonce(studio, session) == 0
