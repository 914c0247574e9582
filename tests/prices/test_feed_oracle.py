"""ChainPriceOracle against a fake upstream: every refusal rule, the cache, the shared read."""

from __future__ import annotations

import asyncio
import logging
from fractions import Fraction

import pytest
from session_studio.policy import Asset, value_in_unit
from session_studio.proxy._errors import UpstreamError, UpstreamUnavailable

from session_studio.prices import (
    DECIMALS_SELECTOR,
    FUTURE_TOLERANCE_S,
    LATEST_ROUND_DATA_SELECTOR,
    ChainPriceOracle,
    FeedProblem,
    FeedReading,
    judge_reading,
)

from .fakes import (
    BASE,
    ETH_3000,
    FEED,
    MAX_AGE_S,
    NOW,
    OPTIMISM,
    OTHER_FEED,
    Clock,
    FakeNode,
    Round,
    Unusable,
    feed_settings,
)


def oracle_for(node: FakeNode, *, clock: Clock | None = None, cache_s: float = 15,
               extra: str = "") -> ChainPriceOracle:
    return ChainPriceOracle(feed_settings(cache_s=cache_s, extra=extra),
                            upstreams={BASE: node, OPTIMISM: Unusable()},
                            clock=clock or Clock())


async def base_eth(node: FakeNode) -> Fraction | None:
    """Base's ETH price from a fresh oracle at NOW."""
    book = await oracle_for(node).price_book(BASE)
    return book.price(BASE, "ETH")


# -- a fresh feed prices its asset ---------------------------------------------------------------
async def test_fresh_feed_prices_the_native_coin() -> None:
    node = FakeNode(feeds={FEED: Round(answer=ETH_3000)})

    book = await oracle_for(node).price_book(BASE)

    assert book.price(BASE, "ETH") == Fraction(3000)
    assert book.price(BASE, "USDC") == Fraction(1)
    assert node.calls == [(FEED, DECIMALS_SELECTOR), (FEED, LATEST_ROUND_DATA_SELECTOR)]


async def test_feed_price_is_the_exact_fraction_of_answer_and_decimals() -> None:
    node = FakeNode(feeds={FEED: Round(answer=300_012_345_678)}, decimals=8)

    assert await base_eth(node) == Fraction(300_012_345_678, 10**8)


async def test_feed_with_18_decimals_is_scaled_by_its_own_decimals() -> None:
    node = FakeNode(feeds={FEED: Round(answer=2_500 * 10**18)}, decimals=18)

    assert await base_eth(node) == Fraction(2500)


async def test_answer_exactly_max_age_old_is_still_used() -> None:
    node = FakeNode(feeds={FEED: Round(updated_at=NOW - MAX_AGE_S)})

    assert await base_eth(node) == Fraction(3000)


async def test_answer_slightly_ahead_of_our_clock_is_used() -> None:
    node = FakeNode(feeds={FEED: Round(updated_at=NOW + FUTURE_TOLERANCE_S)})

    assert await base_eth(node) == Fraction(3000)


# -- refusal rules: the asset is left out of the book ---------------------------------------------
@pytest.mark.parametrize(
    "round_",
    [
        pytest.param(Round(answer=0), id="zero_answer"),
        pytest.param(Round(answer=-1), id="negative_answer"),
        pytest.param(Round(answer=-ETH_3000), id="large_negative_answer"),
        pytest.param(Round(updated_at=0), id="never_updated"),
        pytest.param(Round(updated_at=NOW - MAX_AGE_S - 1), id="one_second_past_max_age"),
        pytest.param(Round(updated_at=NOW - 2 * MAX_AGE_S), id="stale"),
        pytest.param(Round(round_id=8, answered_in_round=7), id="answered_in_earlier_round"),
        pytest.param(Round(updated_at=NOW + FUTURE_TOLERANCE_S + 1), id="from_the_future"),
    ],
)
async def test_untrustworthy_answer_leaves_the_asset_unpriced(round_: Round) -> None:
    node = FakeNode(feeds={FEED: round_})

    book = await oracle_for(node).price_book(BASE)

    assert (BASE, "ETH") not in book.usd_per_unit
    assert book.price(BASE, "ETH") is None
    assert book.price(BASE, "USDC") == Fraction(1)  # static prices are unaffected


@pytest.mark.parametrize(
    ("round_", "problem"),
    [
        pytest.param(Round(), None, id="fresh"),
        pytest.param(Round(answer=0), FeedProblem.NON_POSITIVE_ANSWER, id="zero"),
        # At a `now` younger than max_age_s, only this rule tells a never-updated round apart.
        pytest.param(Round(updated_at=0), FeedProblem.NEVER_UPDATED, id="never_updated"),
        pytest.param(Round(round_id=8, answered_in_round=7), FeedProblem.INCOMPLETE_ROUND,
                     id="incomplete_round"),
        pytest.param(Round(updated_at=NOW - MAX_AGE_S - 1), FeedProblem.STALE, id="stale"),
        pytest.param(Round(updated_at=NOW + FUTURE_TOLERANCE_S + 1), FeedProblem.FROM_THE_FUTURE,
                     id="from_the_future"),
    ],
)
def test_each_rule_names_its_problem(round_: Round, problem: FeedProblem | None) -> None:
    reading = FeedReading(decimals=8, round_id=round_.round_id, answer=round_.answer,
                          started_at=round_.updated_at, updated_at=round_.updated_at,
                          answered_in_round=(round_.round_id if round_.answered_in_round is None
                                             else round_.answered_in_round), read_at=NOW)
    now = NOW if round_.updated_at else MAX_AGE_S - 1

    assert judge_reading(reading, max_age_s=MAX_AGE_S, now=now) == problem


async def test_unpriced_feed_makes_the_engine_refuse_the_value() -> None:
    node = FakeNode(feeds={FEED: Round(updated_at=NOW - 2 * MAX_AGE_S)})
    book = await oracle_for(node).price_book(BASE)
    eth = Asset(chain_id=BASE, symbol="ETH", decimals=18)

    assert value_in_unit(eth, 10**16, "USD", book) is None


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(UpstreamError({"code": 3, "message": "execution reverted"}), id="revert"),
        pytest.param(UpstreamError({"code": -32005, "message": "rate limited"}), id="node_error"),
        pytest.param(UpstreamUnavailable("upstream did not answer (TimeoutError)"), id="timeout"),
    ],
)
async def test_failed_call_leaves_the_asset_unpriced(failure: Exception) -> None:
    node = FakeNode(feeds={FEED: Round()}, fail=failure)

    assert await base_eth(node) is None


async def test_failed_decimals_call_leaves_the_asset_unpriced() -> None:
    node = FakeNode(feeds={FEED: Round()},
                    raw={DECIMALS_SELECTOR: "0x"})

    assert await base_eth(node) is None
    assert node.round_reads() == 0


WORD = "00" * 32


@pytest.mark.parametrize(
    ("selector", "answer"),
    [
        pytest.param(LATEST_ROUND_DATA_SELECTOR, "0x", id="no_contract_empty_answer"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, None, id="null"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, 42, id="not_a_string"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, WORD * 5, id="no_0x_prefix"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, "0x" + WORD * 4, id="four_words"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, Round().encoded() + WORD, id="extra_word"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, "0x" + WORD * 5 + "0", id="odd_length"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, "0x" + "zz" * 160, id="not_hex"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, "0x" + " 0" * 160, id="spaces"),
        pytest.param(LATEST_ROUND_DATA_SELECTOR, "0x" + "ff" * 32 + WORD * 4,
                     id="round_id_over_80_bits"),
        pytest.param(DECIMALS_SELECTOR, "0x" + "00" * 30 + "0108", id="decimals_over_8_bits"),
        pytest.param(DECIMALS_SELECTOR, "0x" + "00" * 31, id="decimals_short"),
    ],
)
async def test_malformed_answer_leaves_the_asset_unpriced(selector: str, answer: object) -> None:
    node = FakeNode(feeds={FEED: Round()}, raw={selector: answer})

    assert await base_eth(node) is None


# -- where a feed price applies -----------------------------------------------------------------
async def test_feed_price_is_filed_under_its_own_chain_only() -> None:
    node = FakeNode(feeds={FEED: Round(answer=3100 * 10**8)})
    oracle = oracle_for(node)

    base_book = await oracle.price_book(BASE)
    optimism_book = await oracle.price_book(OPTIMISM)

    assert base_book.price(BASE, "ETH") == Fraction(3100)
    assert base_book.price(OPTIMISM, "ETH") is None  # a chain's book holds that chain only
    assert optimism_book.price(OPTIMISM, "ETH") == Fraction("2999.50")
    assert optimism_book.price(BASE, "ETH") is None  # never read through Base's node for it
    assert node.round_reads() == 1


async def test_static_only_config_never_calls_an_upstream() -> None:
    settings = feed_settings(base_eth='{ usd = "3000.00" }')
    oracle = ChainPriceOracle(settings, upstreams={})

    book = await oracle.price_book(BASE)

    assert book.usd_per_unit == {(BASE, "ETH"): Fraction(3000), (BASE, "USDC"): Fraction(1)}
    assert (await oracle.price_book(OPTIMISM)).usd_per_unit == {
        (OPTIMISM, "ETH"): Fraction("2999.50")}


async def test_a_chain_with_feeds_needs_an_upstream() -> None:
    with pytest.raises(ValueError, match=r"chain\(s\) \[8453\]"):
        ChainPriceOracle(feed_settings(), upstreams={OPTIMISM: Unusable()})


async def test_two_assets_sharing_one_feed_cost_one_read() -> None:
    token = f"""
[[tokens]]
chain_id = {BASE}
symbol = "WETH"
address = "0x4200000000000000000000000000000000000006"
decimals = 18
price = {{ feed = "{FEED}", max_age_s = 60 }}
"""
    node = FakeNode(feeds={FEED: Round(updated_at=NOW - 120)})

    book = await oracle_for(node, extra=token).price_book(BASE)

    # One reading, judged per asset: 120 s old is fine for ETH (3600) but not for WETH (60).
    assert book.price(BASE, "ETH") == Fraction(3000)
    assert book.price(BASE, "WETH") is None
    assert node.round_reads() == 1


async def test_each_feed_on_a_chain_is_read() -> None:
    token = f"""
[[tokens]]
chain_id = {BASE}
symbol = "cbBTC"
address = "0xcbB7C0000aB88B473b1f5aFd9ef808440eed33Bf"
decimals = 8
price = {{ feed = "{OTHER_FEED}", max_age_s = 3600 }}
"""
    node = FakeNode(feeds={FEED: Round(), OTHER_FEED: Round(answer=65_000 * 10**8)})

    book = await oracle_for(node, extra=token).price_book(BASE)

    assert (book.price(BASE, "ETH"), book.price(BASE, "cbBTC")) == (3000, 65_000)


# -- the cache ----------------------------------------------------------------------------------
async def test_cached_reading_costs_no_upstream_call() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=15)
    await oracle.price_book(BASE)
    calls_after_first = len(node.calls)

    clock.now += 14.9
    book = await oracle.price_book(BASE)

    assert book.price(BASE, "ETH") == Fraction(3000)
    assert len(node.calls) == calls_after_first


async def test_expired_reading_is_read_again_and_sees_the_new_answer() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=15)
    await oracle.price_book(BASE)

    node.feeds[FEED] = Round(answer=3200 * 10**8, updated_at=NOW + 10, round_id=8)
    clock.now += 15
    book = await oracle.price_book(BASE)

    assert book.price(BASE, "ETH") == Fraction(3200)
    assert node.round_reads() == 2


async def test_decimals_are_read_once_per_feed() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=1)

    for _ in range(5):
        await oracle.price_book(BASE)
        clock.now += 2

    assert (node.decimals_reads(), node.round_reads()) == (1, 5)


async def test_cached_reading_goes_stale_by_its_updated_at_not_the_cache() -> None:
    # A long cache must not stretch max_age_s: the reading is judged again at every request.
    node, clock = FakeNode(feeds={FEED: Round(updated_at=NOW - MAX_AGE_S + 10)}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=3600)
    assert (await oracle.price_book(BASE)).price(BASE, "ETH") == Fraction(3000)

    clock.now += 11
    book = await oracle.price_book(BASE)

    assert book.price(BASE, "ETH") is None
    assert node.round_reads() == 1  # refused from the cache, without asking the node


async def test_failed_read_is_not_cached() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    node.fail = UpstreamUnavailable("upstream did not answer (ClientConnectorError)")
    oracle = oracle_for(node, clock=clock, cache_s=15)
    assert (await oracle.price_book(BASE)).price(BASE, "ETH") is None

    node.fail = None
    clock.now += 1  # well within cache_s
    book = await oracle.price_book(BASE)

    assert book.price(BASE, "ETH") == Fraction(3000)


async def test_a_failed_refresh_does_not_fall_back_to_the_old_reading() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=15)
    await oracle.price_book(BASE)

    node.fail = UpstreamError({"code": -32000, "message": "header not found"})
    clock.now += 16
    book = await oracle.price_book(BASE)

    assert book.price(BASE, "ETH") is None


async def test_cache_s_zero_reads_the_feed_for_every_request() -> None:
    node = FakeNode(feeds={FEED: Round()})
    oracle = oracle_for(node, cache_s=0)

    for _ in range(3):
        await oracle.price_book(BASE)

    assert node.round_reads() == 3


async def test_clock_stepping_back_expires_the_cache() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=15)
    await oracle.price_book(BASE)

    clock.now -= 5
    await oracle.price_book(BASE)

    assert node.round_reads() == 2


# -- one read shared by concurrent requests -----------------------------------------------------
async def test_concurrent_requests_share_one_read() -> None:
    node = FakeNode(feeds={FEED: Round()}, gate=asyncio.Event())
    oracle = oracle_for(node)

    waiting = [asyncio.create_task(oracle.price_book(BASE)) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert len(node.calls) == 1  # everyone waits on the same decimals() call
    assert node.gate is not None
    node.gate.set()
    books = await asyncio.gather(*waiting)

    assert {book.price(BASE, "ETH") for book in books} == {Fraction(3000)}
    assert (node.decimals_reads(), node.round_reads()) == (1, 1)


async def test_concurrent_requests_share_one_failure_too() -> None:
    node = FakeNode(feeds={FEED: Round()}, gate=asyncio.Event(),
                    fail=UpstreamUnavailable("upstream did not answer (TimeoutError)"))
    oracle = oracle_for(node)

    waiting = [asyncio.create_task(oracle.price_book(BASE)) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert node.gate is not None
    node.gate.set()
    books = await asyncio.gather(*waiting)

    assert {book.price(BASE, "ETH") for book in books} == {None}
    assert len(node.calls) == 1


async def test_a_cancelled_request_does_not_cancel_the_shared_read() -> None:
    node = FakeNode(feeds={FEED: Round()}, gate=asyncio.Event())
    oracle = oracle_for(node)
    first = asyncio.create_task(oracle.price_book(BASE))
    second = asyncio.create_task(oracle.price_book(BASE))
    await asyncio.sleep(0.01)

    first.cancel()
    assert node.gate is not None
    node.gate.set()
    book = await second

    assert book.price(BASE, "ETH") == Fraction(3000)
    assert first.cancelled()
    assert (node.decimals_reads(), node.round_reads()) == (1, 1)


async def test_a_new_read_starts_after_the_shared_one_finished() -> None:
    node, clock = FakeNode(feeds={FEED: Round()}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=15)
    await asyncio.gather(*(oracle.price_book(BASE) for _ in range(10)))

    clock.now += 15
    await asyncio.gather(*(oracle.price_book(BASE) for _ in range(10)))

    assert node.round_reads() == 2


# -- what the operator sees ---------------------------------------------------------------------
async def test_an_unpriceable_feed_is_logged_once_and_its_recovery_once(
        caplog: pytest.LogCaptureFixture) -> None:
    node, clock = FakeNode(feeds={FEED: Round(updated_at=NOW - 2 * MAX_AGE_S)}), Clock()
    oracle = oracle_for(node, clock=clock, cache_s=0)
    caplog.set_level(logging.INFO, logger="session_studio.prices")

    for _ in range(3):
        await oracle.price_book(BASE)
    node.feeds[FEED] = Round(updated_at=NOW)
    for _ in range(3):
        await oracle.price_book(BASE)

    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert "ETH on chain 8453 is unpriceable" in messages[0] and "stale" in messages[0]
    assert "ETH on chain 8453 priced by feed" in messages[1]
