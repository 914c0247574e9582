"""Signed is not spent (issue 10, item 6; POLICY.md attack catalogue 15).

`eth_signTransaction` hands the client a raw transaction it may broadcast whenever it likes. An
attacker holding a session credential could sign a little every day and broadcast it all in
one block. So a session lineage may hold at most `[policy] max_outstanding_signed` (default 4)
signed transactions the chain has not consumed yet, and settlement follows them as it follows
sends: mined -> settled to the real cost (a revert keeps only its gas), nonce taken by another
transaction -> released.

The scenario (one per module): sign four transactions (two ETH transfers, a USDC transfer that
will revert for lack of USDC, one more ETH transfer), a fifth is refused; the test broadcasts
the first three itself, straight to anvil, and replaces the fourth with a send at the same
nonce; settlement must then account for each, and the freed slots admit new signatures.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import pytest
from session_studio_dev import fund_native
from web3 import Web3

from .harness import ETH_PRICE_USD, Studio
from .rpc_client import (
    assert_policy_denied,
    calldata,
    eth_transfer,
    fresh_address,
    send,
    token_call,
)

pytestmark = pytest.mark.e2e

BOUND = 4  # the documented default of [policy] max_outstanding_signed
VALUE_WEI = 10**12
USDC = 10**6
SETTLE_TIMEOUT_S = 20


@dataclass(frozen=True)
class Entry:
    status: str
    amount: int  # USD atoms


def _ledger(studio: Studio, key_hash: str) -> dict[str, Entry]:
    path = studio.home / "studio.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT r.tx_hash, r.status, r.amount FROM reservations r"
            " JOIN sessions s ON s.id = r.session_id WHERE s.key_hash = ?",
            (key_hash.lower(),)).fetchall()
    return {h: Entry(status=s, amount=int(a)) for h, s, a in rows}


def _sign(studio: Studio, session: dict[str, Any], tx: dict[str, Any]) -> dict[str, Any]:
    return send(studio, session, tx, method="eth_signTransaction")


def _gas_cost(chain: Web3, tx_hash: str) -> int:
    receipt = chain.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    return int(receipt["gasUsed"] * receipt["effectiveGasPrice"]) * ETH_PRICE_USD


@dataclass
class HeldBack:
    session: dict[str, Any]
    signed: list[dict[str, Any]]  # the first BOUND answers
    refused: dict[str, Any]  # the answer beyond the bound
    hashes: list[str]  # of the signed transactions, in signing order
    replacement: str  # the send that took the last signed transaction's nonce
    ledger: dict[str, Entry]  # once settlement had its say
    after_settlement: dict[str, Any]  # a signature asked for once the slots were freed


@pytest.fixture(scope="module")
def held_back(studio: Studio) -> HeldBack:
    session = studio.create_session(per_tx="50", daily="500", fund=False)
    chain = studio.chain_web3()
    fund_native(chain, session["address"], 10**18)  # no USDC: the token transfer reverts
    reverting = token_call(studio, session, calldata(studio, "transfer", fresh_address(),
                                                     10 * USDC))
    txs = [eth_transfer(session, fresh_address(), VALUE_WEI),
           eth_transfer(session, fresh_address(), VALUE_WEI), reverting,
           eth_transfer(session, fresh_address(), VALUE_WEI)]
    signed = [_sign(studio, session, tx) for tx in txs]
    refused = _sign(studio, session, eth_transfer(session, fresh_address(), VALUE_WEI))
    raws = [answer["result"] for answer in signed if "result" in answer]
    hashes = [Web3.keccak(hexstr=raw).to_0x_hex() for raw in raws]
    for raw in raws[:3]:  # broadcast later, by the client itself, not through the sidecar
        chain.eth.send_raw_transaction(raw)
    replacement = send(studio, session, {**eth_transfer(session, fresh_address(), VALUE_WEI),
                                         "nonce": hex(3)})
    for tx_hash in [*hashes[:3], replacement.get("result")]:
        chain.eth.wait_for_transaction_receipt(tx_hash, timeout=10)  # type: ignore[arg-type]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        ledger = _ledger(studio, session["key_hash"])
        if all(e.status in ("settled", "released") for e in ledger.values()):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    after = _sign(studio, session, eth_transfer(session, fresh_address(), VALUE_WEI))
    return HeldBack(session=session, signed=signed, refused=refused, hashes=hashes,
                    replacement=replacement["result"], ledger=ledger, after_settlement=after)


def test_signing_up_to_the_outstanding_bound_is_allowed(held_back: HeldBack) -> None:
    assert [("result" in answer) for answer in held_back.signed] == [True] * BOUND


def test_signing_beyond_the_outstanding_bound_is_refused(held_back: HeldBack) -> None:
    error = assert_policy_denied(held_back.refused, "rate_limited")
    assert error["data"]["outstanding_signed"] == str(BOUND)
    assert error["data"]["max_outstanding_signed"] == str(BOUND)


def test_held_back_transactions_broadcast_later_settle_to_their_real_cost(
        studio: Studio, held_back: HeldBack) -> None:
    chain = studio.chain_web3()
    for tx_hash in (held_back.hashes[0], held_back.hashes[1]):
        assert held_back.ledger[tx_hash] == Entry(
            status="settled", amount=VALUE_WEI * ETH_PRICE_USD + _gas_cost(chain, tx_hash))


def test_held_back_transaction_that_reverted_keeps_only_its_real_gas(
        studio: Studio, held_back: HeldBack) -> None:
    tx_hash = held_back.hashes[2]
    assert studio.chain_web3().eth.get_transaction_receipt(tx_hash)["status"] == 0  # type: ignore[arg-type]
    assert held_back.ledger[tx_hash] == Entry(
        status="settled", amount=_gas_cost(studio.chain_web3(), tx_hash))


def test_held_back_transaction_whose_nonce_another_took_is_released(
        held_back: HeldBack) -> None:
    assert held_back.ledger[held_back.hashes[3]].status == "released"
    assert held_back.ledger[held_back.replacement].status == "settled"


def test_settled_signatures_free_their_slots(held_back: HeldBack) -> None:
    assert "result" in held_back.after_settlement, held_back.after_settlement


def test_chain_saw_only_what_was_signed_within_the_bound(
        studio: Studio, held_back: HeldBack) -> None:
    # Nonces 0-3 are the four signed (the fourth replaced) and the refused one never existed.
    assert studio.chain_web3().eth.get_transaction_count(
        held_back.session["address"]) == BOUND
