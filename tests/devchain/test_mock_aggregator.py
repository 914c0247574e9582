"""The Chainlink-style mock feed returns exactly what its owner set."""

from __future__ import annotations

import pytest
from session_studio_dev import bind_contract, deploy_mock_aggregator, set_aggregator_answer
from web3 import Web3

pytestmark = pytest.mark.e2e


def test_aggregator_reports_configured_decimals_and_initial_answer(w3: Web3) -> None:
    feed = bind_contract(
        w3, "MockAggregator", deploy_mock_aggregator(w3, decimals=8, answer=3_000 * 10**8)
    )
    assert feed.functions.decimals().call() == 8
    round_id, answer, _, updated_at, answered_in_round = feed.functions.latestRoundData().call()
    assert (round_id, answer, answered_in_round) == (1, 3_000 * 10**8, 1)
    assert updated_at == w3.eth.get_block("latest")["timestamp"]


def test_aggregator_returns_the_answer_that_was_set(w3: Web3) -> None:
    address = deploy_mock_aggregator(w3, decimals=18, answer=1)
    stale_time = 1_600_000_000

    set_aggregator_answer(w3, address, 2_500 * 10**18, stale_time)

    feed = bind_contract(w3, "MockAggregator", address)
    assert feed.functions.latestRoundData().call() == [2, 2_500 * 10**18, stale_time, stale_time, 2]


def test_aggregator_accepts_non_positive_answers(w3: Web3) -> None:
    # The policy engine must refuse these, so the mock must be able to produce them.
    address = deploy_mock_aggregator(w3, decimals=8, answer=1)
    set_aggregator_answer(w3, address, -5, 1_700_000_000)
    feed = bind_contract(w3, "MockAggregator", address)
    assert feed.functions.latestRoundData().call()[1] == -5
