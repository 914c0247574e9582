"""The one table of node wordings for eth_sendRawTransaction refusals (issue 10, item 7).

Each message below is what a client really answers, as its source words it (the table in
session_studio.proxy._node_errors names the file). A real node of Nethermind, Besu, Erigon, reth or
OpenEthereum cannot run here; anvil's own wordings are also met through the real node in
tests/e2e/test_recovery_mined.py.
"""

from __future__ import annotations

import pytest
from session_studio.proxy._errors import UpstreamError
from session_studio.proxy._node_errors import WORDINGS, NodeSays, node_says

HASH = "5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"

ALREADY_KNOWN = [
    ("geth", "already known"),
    ("geth, releases before ErrAlreadyKnown", f"known transaction: {HASH}"),
    ("nethermind", "already known"),
    ("nethermind, earlier releases", "AlreadyKnown"),
    ("besu", "Known transaction"),
    ("erigon", "ALREADY_EXISTS: already known"),
    ("erigon, duplicate hash", "existing txn with same hash"),
    ("reth", "already known"),
    ("reth, earlier releases", f"[0x{HASH}] Already imported"),
    ("anvil", "transaction already imported"),
    ("openethereum", "Transaction with the same hash was already imported."),
]
NONCE_USED = [
    ("geth, pool", "nonce too low: next nonce 5, tx nonce 3"),
    ("geth, state", "nonce too low: address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8, "
                    "tx: 3 state: 5"),
    ("nethermind", "nonce too low"),
    ("nethermind, earlier releases", "OldNonce"),
    ("nethermind, earlier releases, local", "OldNonce, Current nonce: 5, nonce of rejected tx: 3"),
    ("besu", "Nonce too low"),
    ("erigon", "nonce too low"),
    ("reth", "nonce too low: next nonce 5, tx nonce 3"),
    ("anvil", "nonce too low"),
    ("openethereum", "Transaction nonce is too low. Try incrementing the nonce."),
]
REFUSALS = [  # the transaction never entered the pool: a release is right
    ("geth", "replacement transaction underpriced"),
    ("geth", "insufficient funds for gas * price + value: address 0x7099 have 0 want 42"),
    ("geth", "nonce too high"),
    ("anvil", "Unknown transaction type not supported"),
    ("besu", "Nonce too high"),
    ("besu", "Transaction nonce is too distant from current sender nonce"),
    ("nethermind, earlier releases", "NonceGap"),
    ("nethermind, earlier releases", "OwnNonceAlreadyUsed"),
    ("reth", "transaction underpriced"),
    ("erigon", "FEE_TOO_LOW: fee too low"),
]


@pytest.mark.parametrize(("client", "message"), ALREADY_KNOWN)
def test_every_clients_already_known_means_the_node_has_it(client: str, message: str) -> None:
    assert node_says(message) is NodeSays.ALREADY_KNOWN, client
    error = UpstreamError({"code": -32000, "message": message})
    assert error.already_known and not error.stale_nonce


@pytest.mark.parametrize(("client", "message"), NONCE_USED)
def test_every_clients_nonce_too_low_means_the_nonce_is_used(client: str, message: str) -> None:
    assert node_says(message) is NodeSays.NONCE_USED, client
    error = UpstreamError({"code": -32000, "message": message})
    assert error.stale_nonce and not error.already_known


@pytest.mark.parametrize(("client", "message"), REFUSALS)
def test_other_refusals_mean_neither(client: str, message: str) -> None:
    assert node_says(message) is None, client


def test_every_wording_names_its_source_and_is_met_by_a_real_message() -> None:
    messages = [m for _, m in ALREADY_KNOWN + NONCE_USED]
    for wording in WORDINGS:
        assert wording.source and wording.clients
        assert any(wording.pattern.search(m) for m in messages), wording.pattern.pattern
