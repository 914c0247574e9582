"""ChainPriceOracle reading a real MockAggregator on anvil through the real Upstream client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from session_studio.proxy import Upstream
from session_studio_dev import (
    ANVIL_DEFAULT_ADDRESS,
    AnvilNode,
    deploy_mock_aggregator,
    set_aggregator_answer,
)
from web3 import Web3

from session_studio.prices import ChainPriceOracle
from session_studio.settings import Settings, parse_settings

CHAIN_ID = 31337
MAX_AGE_S = 3600
ETH_3000 = 3000 * 10**8

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    # No skip when anvil is missing: find_anvil() raises and the tests fail, as they should.
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    with AnvilNode(port=0, chain_id=CHAIN_ID, log_path=log) as node:
        yield node


@pytest.fixture
def w3(anvil: AnvilNode) -> Web3:
    return anvil.web3()


@pytest.fixture
async def upstream(anvil: AnvilNode) -> AsyncIterator[Upstream]:
    client = Upstream(anvil.rpc_url, timeout_s=5)
    await client.start()
    yield client
    await client.close()


def settings_with_eth_feed(anvil: AnvilNode, feed: str, *, cache_s: float = 15) -> Settings:
    text = f"""
[prices]
cache_s = {cache_s}
[chains.{CHAIN_ID}]
name = "anvil"
rpc_url = "{anvil.rpc_url}"
native_symbol = "ETH"
native_price = {{ feed = "{feed}", max_age_s = {MAX_AGE_S} }}
"""
    return parse_settings(text, config_path=Path("/srv/studio/session-studio.toml"))


def oracle(anvil: AnvilNode, upstream: Upstream, feed: str, *, cache_s: float = 15,
           clock: Callable[[], float] = time.time) -> ChainPriceOracle:
    return ChainPriceOracle(settings_with_eth_feed(anvil, feed, cache_s=cache_s),
                            upstreams={CHAIN_ID: upstream}, clock=clock)


async def test_fresh_feed_on_chain_prices_eth_at_3000(anvil: AnvilNode, w3: Web3,
                                                      upstream: Upstream) -> None:
    feed = deploy_mock_aggregator(w3, decimals=8, answer=ETH_3000)

    book = await oracle(anvil, upstream, feed).price_book(CHAIN_ID)

    assert book.price(CHAIN_ID, "ETH") == Fraction(3000)


async def test_stale_feed_on_chain_leaves_eth_unpriced(anvil: AnvilNode, w3: Web3,
                                                       upstream: Upstream) -> None:
    feed = deploy_mock_aggregator(w3, decimals=8, answer=ETH_3000)
    set_aggregator_answer(w3, feed, ETH_3000, int(time.time()) - 2 * MAX_AGE_S)

    book = await oracle(anvil, upstream, feed).price_book(CHAIN_ID)

    assert book.price(CHAIN_ID, "ETH") is None


async def test_negative_answer_on_chain_leaves_eth_unpriced(anvil: AnvilNode, w3: Web3,
                                                            upstream: Upstream) -> None:
    feed = deploy_mock_aggregator(w3, decimals=8, answer=ETH_3000)
    set_aggregator_answer(w3, feed, -ETH_3000, int(time.time()))

    book = await oracle(anvil, upstream, feed).price_book(CHAIN_ID)

    assert book.price(CHAIN_ID, "ETH") is None


async def test_zero_answer_on_chain_leaves_eth_unpriced(anvil: AnvilNode, w3: Web3,
                                                        upstream: Upstream) -> None:
    feed = deploy_mock_aggregator(w3, decimals=8, answer=0)

    book = await oracle(anvil, upstream, feed).price_book(CHAIN_ID)

    assert book.price(CHAIN_ID, "ETH") is None


async def test_feed_with_other_decimals_is_scaled_by_what_the_contract_says(
        anvil: AnvilNode, w3: Web3, upstream: Upstream) -> None:
    feed = deploy_mock_aggregator(w3, decimals=18, answer=2_999_990_000_000_000_000_000)

    book = await oracle(anvil, upstream, feed).price_book(CHAIN_ID)

    assert book.price(CHAIN_ID, "ETH") == Fraction("2999.99")


async def test_address_without_a_contract_leaves_eth_unpriced(anvil: AnvilNode,
                                                              upstream: Upstream) -> None:
    # An EOA answers eth_call with empty data: not an aggregator, whatever the config says.
    book = await oracle(anvil, upstream, ANVIL_DEFAULT_ADDRESS).price_book(CHAIN_ID)

    assert book.price(CHAIN_ID, "ETH") is None


async def test_new_answer_is_seen_once_the_cache_expires(anvil: AnvilNode, w3: Web3,
                                                         upstream: Upstream) -> None:
    feed = deploy_mock_aggregator(w3, decimals=8, answer=ETH_3000)
    skew = 0.0  # the wall clock, moved forward by the test instead of sleeping through cache_s
    prices = oracle(anvil, upstream, feed, cache_s=15, clock=lambda: time.time() + skew)
    assert (await prices.price_book(CHAIN_ID)).price(CHAIN_ID, "ETH") == Fraction(3000)

    set_aggregator_answer(w3, feed, 3100 * 10**8, int(time.time()))
    cached = await prices.price_book(CHAIN_ID)
    skew = 15
    refreshed = await prices.price_book(CHAIN_ID)

    assert cached.price(CHAIN_ID, "ETH") == Fraction(3000)
    assert refreshed.price(CHAIN_ID, "ETH") == Fraction(3100)


async def test_stopped_node_leaves_eth_unpriced() -> None:
    with AnvilNode(port=0, chain_id=CHAIN_ID) as doomed:
        feed = deploy_mock_aggregator(doomed.web3(), decimals=8, answer=ETH_3000)
        client = Upstream(doomed.rpc_url, timeout_s=5)
        await client.start()
        try:
            prices = oracle(doomed, client, feed, cache_s=0)
            assert (await prices.price_book(CHAIN_ID)).price(CHAIN_ID, "ETH") == 3000
            doomed.kill()

            book = await prices.price_book(CHAIN_ID)
        finally:
            await client.close()

    assert book.price(CHAIN_ID, "ETH") is None
