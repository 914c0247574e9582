"""The fee figures a send is filled with: one fetch per chain per second, shared by the sends
in flight, never keeping a failure."""

from __future__ import annotations

import asyncio

import pytest
from session_studio.proxy import FeeCache
from session_studio.proxy._errors import UpstreamUnavailable

from .fakes import FakeUpstream, Silent

GWEI = 10**9


def _node(base: int = 3 * GWEI) -> FakeUpstream:
    return FakeUpstream({"eth_maxPriorityFeePerGas": hex(GWEI),
                         "eth_getBlockByNumber": {"baseFeePerGas": hex(base)}})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_figures_are_the_priority_fee_and_the_latest_base_fee() -> None:
    figures = await FeeCache(_node(), clock=Clock()).figures()
    assert (figures.priority, figures.base) == (GWEI, 3 * GWEI)


async def test_sends_within_the_interval_share_one_fetch() -> None:
    node, clock = _node(), Clock()
    cache = FeeCache(node, ttl_s=1.0, clock=clock)
    await cache.figures()
    clock.now += 0.9
    await cache.figures()
    assert node.asked("eth_getBlockByNumber") == 1


async def test_the_figures_are_fetched_again_once_the_interval_passed() -> None:
    node, clock = _node(), Clock()
    cache = FeeCache(node, ttl_s=1.0, clock=clock)
    await cache.figures()
    node.table["eth_getBlockByNumber"] = {"baseFeePerGas": hex(5 * GWEI)}
    clock.now += 1.0
    assert (await cache.figures()).base == 5 * GWEI


async def test_concurrent_sends_wait_for_the_one_fetch_in_flight() -> None:
    node = _node()
    cache = FeeCache(node, clock=Clock())
    await asyncio.gather(*(cache.figures() for _ in range(16)))
    assert node.asked("eth_maxPriorityFeePerGas") == 1


async def test_a_failed_fetch_is_not_kept() -> None:
    node = _node()
    node.table["eth_getBlockByNumber"] = Silent()
    cache = FeeCache(node, clock=Clock())
    with pytest.raises(UpstreamUnavailable):
        await cache.figures()
    node.table["eth_getBlockByNumber"] = {"baseFeePerGas": hex(GWEI)}
    assert (await cache.figures()).base == GWEI


async def test_a_block_without_a_base_fee_is_upstream_doubt() -> None:
    node = FakeUpstream({"eth_maxPriorityFeePerGas": hex(GWEI), "eth_getBlockByNumber": {}})
    with pytest.raises(UpstreamUnavailable):
        await FeeCache(node, clock=Clock()).figures()


async def test_no_interval_asks_every_time() -> None:
    node = _node()
    cache = FeeCache(node, ttl_s=0, clock=Clock())
    await cache.figures()
    await cache.figures()
    assert node.asked("eth_getBlockByNumber") == 2
