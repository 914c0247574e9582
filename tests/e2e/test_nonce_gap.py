"""Held back behind a nonce gap (POLICY.md catalogue 15, "explicit nonces far ahead").

A transaction whose nonce lies past the account's next one is not lost: the node keeps it in
its queue and mines it the moment the gap is filled, which the session holder decides. Signed
today at nonce next+5, counted in today's window, it could land next week together with a
week of others: the daily cap would bound nothing. So the sidecar signs no nonce past the next
one, for sends and for `eth_signTransaction` alike. Against the real `serve` and anvil.
"""

from __future__ import annotations

import pytest

from .harness import Studio
from .rpc_client import assert_error, eth_transfer, fresh_address, send

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("method", ["eth_sendTransaction", "eth_signTransaction"])
def test_a_nonce_past_the_next_is_refused_so_nothing_waits_behind_a_gap(
        studio: Studio, method: str) -> None:
    session = studio.create_session(per_tx="50", daily="1000")
    chain = studio.chain_web3()
    first = send(studio, session, eth_transfer(session, fresh_address(), 10**12))
    chain.eth.wait_for_transaction_receipt(first["result"], timeout=30)

    ahead = send(studio, session, {**eth_transfer(session, fresh_address(), 10**12),
                                   "nonce": hex(6)}, method=method)

    error = assert_error(ahead, -32602)
    assert "gap" in error["message"] and "next nonce is 1" in error["message"]
    assert chain.eth.get_transaction_count(session["address"], "pending") == 1
    following = send(studio, session, eth_transfer(session, fresh_address(), 10**12))
    receipt = chain.eth.wait_for_transaction_receipt(following["result"], timeout=30)
    assert receipt["status"] == 1
    assert chain.eth.get_transaction(following["result"])["nonce"] == 1


def test_the_next_nonce_given_explicitly_is_signed(studio: Studio) -> None:
    session = studio.create_session(per_tx="50", daily="1000")
    chain = studio.chain_web3()

    answer = send(studio, session, {**eth_transfer(session, fresh_address(), 10**12),
                                    "nonce": hex(0)})

    assert chain.eth.wait_for_transaction_receipt(answer["result"], timeout=30)["status"] == 1
    assert chain.eth.get_transaction(answer["result"])["nonce"] == 0
