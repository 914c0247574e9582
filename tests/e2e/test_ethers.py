"""ethers v6 (JsonRpcProvider + JsonRpcSigner) against the sidecar, through ethers_client.mjs.

ethers is the strictest common client on the wire: it batches requests, throws on any HTTP
status but 200, matches answers by id, and classifies errors by their message text, so a policy
refusal must read "User denied ..." to surface as ACTION_REJECTED.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).with_name("ethers_client.mjs")
REPO = Path(__file__).resolve().parents[2]


def run_ethers(*args: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is required for the ethers tests (make install)"
    assert (REPO / "node_modules" / "ethers").is_dir(), "ethers is not installed (npm ci)"
    proc = subprocess.run([node, str(CLIENT), *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, check=False)
    assert proc.returncode == 0, f"ethers client failed:\n{proc.stderr}"
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def credential_url(studio: Studio, session: dict[str, Any]) -> str:
    return f"{studio.rpc_url(PRIMARY_CHAIN)}/{session['credential']}"


def test_ethers_signer_sends_usdc_and_eth_with_the_credential_in_the_url(
        studio: Studio) -> None:
    session = studio.create_session(per_tx="50", daily="200")
    to = str(Account.create().address)
    out = run_ethers(credential_url(studio, session), studio.usdc[PRIMARY_CHAIN], to,
                     "7000000", "--from", session["address"], "--eth-wei", str(10**15))
    assert out["chainId"] == str(PRIMARY_CHAIN)
    assert out["accounts"] == [session["address"]]
    assert out["signer"] == session["address"]
    concurrent = out["concurrent"]
    assert concurrent["balance"] == str(10 * 10**18)  # what the harness funded
    assert concurrent["chainIdHex"] == hex(PRIMARY_CHAIN)
    assert concurrent["accounts"] == [session["address"]]
    assert out["largestBatch"] >= 2  # ethers did batch, and every answer matched its id
    for sent in (out["token"], out["eth"]):
        assert sent["status"] == 1
        assert sent["from"] == session["address"]
    chain = studio.chain_web3()
    assert studio.usdc_balance(to) == 7_000_000
    assert chain.eth.get_balance(to) == 10**15
    assert chain.eth.get_transaction_count(session["address"]) == 2


def test_ethers_signer_sends_with_a_bearer_header_through_fetch_request(
        studio: Studio) -> None:
    session = studio.create_session(type_="app")
    to = str(Account.create().address)
    out = run_ethers(studio.rpc_url(PRIMARY_CHAIN), studio.usdc[PRIMARY_CHAIN], to, "2500000",
                     "--bearer", session["credential"])
    assert out["signer"] == session["address"]
    assert out["token"]["status"] == 1
    assert studio.usdc_balance(to) == 2_500_000


def test_ethers_sees_an_over_limit_transfer_as_action_rejected(studio: Studio) -> None:
    session = studio.create_session(type_="app", per_tx="10", daily="100")
    to = str(Account.create().address)
    chain = studio.chain_web3()
    out = run_ethers(credential_url(studio, session), studio.usdc[PRIMARY_CHAIN], to,
                     "1000000", "--over-limit", "20000000")
    rejected = out["overLimit"]
    assert rejected["refused"] is True
    assert rejected["code"] == "ACTION_REJECTED"
    assert rejected["isActionRejected"] is True
    assert rejected["action"] == "sendTransaction"
    assert rejected["rpcCode"] == 4001
    assert rejected["rpcMessage"].startswith("User denied")
    assert rejected["reason"] == "per_tx_limit_exceeded"
    # Only the first, allowed transfer reached the chain.
    assert chain.eth.get_transaction_count(session["address"]) == 1
    assert studio.usdc_balance(to) == 1_000_000
