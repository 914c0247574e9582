"""Prices for the policy engine: static ones from the config, and Chainlink-style feeds on chain.

``ChainPriceOracle`` is the RPC plane's ``PriceOracle``. For a chain it answers a ``PriceBook``
holding *that chain's* prices only: its static ``{ usd = "..." }`` prices and its feed prices,
each feed read through that chain's own upstream. Every ``(chain_id, symbol)`` has exactly one
source, and the book holds its price only while that source is usable: chain A's ETH/USD
aggregator never prices ETH on chain B, chain B's static ETH price never stands in for chain A's
stale feed, and a request on chain A never waits for chain B's node.

A feed answer that cannot be trusted is left out of the book, so the engine refuses whatever
depends on it as ``unpriceable_asset`` (POLICY.md: fail closed, never value at a guess). Refused:

    NON_POSITIVE_ANSWER   answer <= 0 (Chainlink reports failure or a broken feed this way)
    NEVER_UPDATED         updatedAt == 0: the round has not completed
    INCOMPLETE_ROUND      answeredInRound < roundId: the answer was carried over from an earlier
                          round (legacy FluxAggregator semantics, still in AggregatorV3Interface)
    STALE                 now - updatedAt > max_age_s
    FROM_THE_FUTURE       updatedAt more than ``FUTURE_TOLERANCE_S`` ahead of our clock
    UNREADABLE            the eth_call failed, or answered something that is not the ABI shape

"now" is the host's wall clock (``time.time``, injected as ``clock``), not the chain head's
timestamp. Staleness asks "how old is this price at the moment we sign?". The head timestamp
answers a different question, "how old relative to what our node has seen?": a lagging or stuck
upstream (a node still syncing, a halted sequencer) has an old head too, and an hours-old answer
would look fresh against it. The wall clock fails closed there, and needs no extra
``eth_getBlockByNumber`` per reading. Its cost is trusting the host clock (run NTP); a feed that
claims to be from the future is refused, because then the clock or the feed is wrong.

Cost per request: ``decimals()`` is read once per feed and kept for the life of the process (it
is immutable on every Chainlink aggregator and proxy). ``latestRoundData()`` is kept for
``[prices] cache_s`` seconds; within that time a decision makes no upstream call at all. A cached
reading is judged again on every request against its own ``updatedAt``, so a cache never lets an
answer older than ``max_age_s`` through. Concurrent requests for a feed that must be read share
one in-flight read. A failed read is not cached: the next request tries again (still one shared
read at a time), so a node that recovers is used at once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, Protocol

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError

from session_studio.policy import PriceBook
from session_studio.proxy import RpcError
from session_studio.settings import PriceSource, Settings

__all__ = [
    "DECIMALS_SELECTOR",
    "FUTURE_TOLERANCE_S",
    "LATEST_ROUND_DATA_SELECTOR",
    "ChainPriceOracle",
    "FeedProblem",
    "FeedReading",
    "JsonRpcCaller",
    "judge_reading",
]

log = logging.getLogger("session_studio.prices")

# AggregatorV3Interface selectors: keccak256("decimals()")[:4], keccak256("latestRoundData()")[:4].
DECIMALS_SELECTOR: Final = "0x313ce567"
LATEST_ROUND_DATA_SELECTOR: Final = "0xfeaf968c"
_ROUND_DATA_TYPES: Final = ("uint80", "int256", "uint256", "uint256", "uint80")
_WORD: Final = 32
_HEX_DATA: Final = re.compile(r"0x(?:[0-9a-fA-F]{2})*")

# Block timestamps may run a little ahead of a host clock (L2 sequencers, NTP steps); beyond this
# the feed and our clock disagree, and an age computed from either cannot be trusted.
FUTURE_TOLERANCE_S: Final = 60


class JsonRpcCaller(Protocol):
    """What the oracle needs of a chain's upstream (``proxy.Upstream`` is one)."""

    async def call(self, method: str, params: list[Any]) -> Any: ...


class FeedProblem(enum.StrEnum):
    """Why a feed's answer is not used (the asset is then unpriceable)."""

    NON_POSITIVE_ANSWER = "non_positive_answer"
    NEVER_UPDATED = "never_updated"
    INCOMPLETE_ROUND = "incomplete_round"
    STALE = "stale"
    FROM_THE_FUTURE = "from_the_future"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedReading:
    """One ``latestRoundData()`` answer with the feed's ``decimals()``, as read at ``read_at``."""

    decimals: int
    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int
    read_at: float  # clock time of the read: when the cache entry expires, not how old the price is

    @property
    def usd_per_unit(self) -> Fraction:
        return Fraction(self.answer, 10**self.decimals)


def judge_reading(reading: FeedReading, *, max_age_s: int, now: float) -> FeedProblem | None:
    """Why ``reading`` must not price anything at ``now``, or None when it may."""
    if reading.answer <= 0:
        return FeedProblem.NON_POSITIVE_ANSWER
    if reading.updated_at == 0:
        return FeedProblem.NEVER_UPDATED
    if reading.answered_in_round < reading.round_id:
        return FeedProblem.INCOMPLETE_ROUND
    if reading.updated_at > now + FUTURE_TOLERANCE_S:
        return FeedProblem.FROM_THE_FUTURE
    if now - reading.updated_at > max_age_s:
        return FeedProblem.STALE
    return None


class _UnreadableFeed(Exception):
    """The feed's answer could not be obtained or is not the ABI shape; says which."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _FeedKey:
    chain_id: int
    feed: str  # EIP-55 address, as the settings hold it


@dataclass(frozen=True, slots=True, kw_only=True)
class _FeedPriced:
    """One ``(chain, symbol)`` whose price comes from a feed. Several may share a feed."""

    symbol: str
    key: _FeedKey
    max_age_s: int


class ChainPriceOracle:
    """Static and feed prices per chain; see the module docstring for the rules and the cache.

    ``upstreams`` maps each chain id that has a feed-priced asset to the caller its feeds are
    read through. ``clock`` is unix seconds (wall clock, see above); tests inject their own.
    A configuration with only static prices never touches an upstream.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        upstreams: Mapping[int, JsonRpcCaller],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._cache_s = settings.prices.cache_s
        # Per chain: its static prices, and its feed-priced symbols. One source per symbol.
        self._static: dict[int, dict[str, Fraction]] = {}
        self._feed_priced: dict[int, list[_FeedPriced]] = {}
        for chain in settings.chains.values():
            self._add(chain.chain_id, chain.native_symbol, chain.native_price)
        for token in settings.tokens:
            self._add(token.chain_id, token.symbol, token.price)
        missing = sorted({c for c, feeds in self._feed_priced.items() if feeds} - set(upstreams))
        if missing:
            raise ValueError(f"no upstream to read price feeds on chain(s) {missing}")
        self._upstreams = dict(upstreams)
        self._decimals: dict[_FeedKey, int] = {}
        self._readings: dict[_FeedKey, FeedReading] = {}
        self._in_flight: dict[_FeedKey, asyncio.Task[FeedReading | _UnreadableFeed]] = {}
        # What was last logged per (chain, symbol), so a stale feed is logged once, not per request.
        self._last_problem: dict[tuple[int, str], FeedProblem | None] = {}

    def _add(self, chain_id: int, symbol: str, source: PriceSource) -> None:
        static = self._static.setdefault(chain_id, {})
        feeds = self._feed_priced.setdefault(chain_id, [])
        if symbol in static or any(entry.symbol == symbol for entry in feeds):
            # The settings refuse this already; a second source could show through the first
            # one's failure, which is exactly the silent fallback the book must never have.
            raise ValueError(f"{symbol} on chain {chain_id} has two price sources")
        if source.usd is not None:
            static[symbol] = Fraction(source.usd)
        elif source.feed is not None and source.max_age_s is not None:
            feeds.append(_FeedPriced(symbol=symbol,
                                     key=_FeedKey(chain_id=chain_id, feed=source.feed),
                                     max_age_s=source.max_age_s))

    async def price_book(self, chain_id: int) -> PriceBook:
        """This chain's usable prices; an asset whose own source is unusable is left out."""
        prices = {(chain_id, symbol): usd
                  for symbol, usd in self._static.get(chain_id, {}).items()}
        priced = self._feed_priced.get(chain_id)
        if not priced:
            return PriceBook(prices)
        keys = list(dict.fromkeys(p.key for p in priced))
        readings = dict(zip(keys, await asyncio.gather(*(self._reading(k) for k in keys)),
                            strict=True))
        now = self._clock()
        for entry in priced:
            reading = readings[entry.key]
            problem = (FeedProblem.UNREADABLE if isinstance(reading, _UnreadableFeed)
                       else judge_reading(reading, max_age_s=entry.max_age_s, now=now))
            self._note(chain_id, entry, problem, reading, now)
            if isinstance(reading, FeedReading) and problem is None:
                prices[(chain_id, entry.symbol)] = reading.usd_per_unit
        return PriceBook(prices)

    async def _reading(self, key: _FeedKey) -> FeedReading | _UnreadableFeed:
        """The feed's reading, from the cache or from one read shared by concurrent callers."""
        cached = self._readings.get(key)
        if cached is not None and 0 <= self._clock() - cached.read_at < self._cache_s:
            return cached
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(self._read(key), name=f"price feed {key.feed}")
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # shield: a client that disconnects cancels its own wait, not the read others share.
        return await asyncio.shield(task)

    def _forget(self, key: _FeedKey, done: asyncio.Task[FeedReading | _UnreadableFeed]) -> None:
        if self._in_flight.get(key) is done:
            del self._in_flight[key]

    async def _read(self, key: _FeedKey) -> FeedReading | _UnreadableFeed:
        upstream = self._upstreams[key.chain_id]
        try:
            decimals = self._decimals.get(key)
            if decimals is None:
                # One extra round trip per feed per process: decimals() never changes.
                (decimals,) = await _eth_call(upstream, key.feed, DECIMALS_SELECTOR, ("uint8",))
                self._decimals[key] = decimals
            fields = await _eth_call(upstream, key.feed, LATEST_ROUND_DATA_SELECTOR,
                                     _ROUND_DATA_TYPES)
        except _UnreadableFeed as exc:
            # Returned, not raised: a shared read's outcome reaches every waiter, and nothing
            # is left unretrieved when they have all gone.
            return exc
        round_id, answer, started_at, updated_at, answered_in_round = fields
        reading = FeedReading(decimals=decimals, round_id=round_id, answer=answer,
                              started_at=started_at, updated_at=updated_at,
                              answered_in_round=answered_in_round, read_at=self._clock())
        self._readings[key] = reading
        return reading

    def _note(self, chain_id: int, entry: _FeedPriced, problem: FeedProblem | None,
              reading: FeedReading | _UnreadableFeed, now: float) -> None:
        """Log when a feed-priced asset becomes unpriceable, or priceable again."""
        where = (chain_id, entry.symbol)
        if self._last_problem.get(where) == problem:  # a feed starts out as priceable
            return
        self._last_problem[where] = problem
        if problem is None:
            log.info("%s on chain %d priced by feed %s again", entry.symbol, chain_id,
                     entry.key.feed)
        elif isinstance(reading, _UnreadableFeed):
            log.warning("%s on chain %d is unpriceable: feed %s unreadable: %s", entry.symbol,
                        chain_id, entry.key.feed, reading)
        else:
            log.warning("%s on chain %d is unpriceable: feed %s %s (answer %d, updatedAt %d, "
                        "%.0f s ago, max_age_s %d)", entry.symbol, chain_id, entry.key.feed,
                        problem.value, reading.answer, reading.updated_at,
                        now - reading.updated_at, entry.max_age_s)


async def _eth_call(upstream: JsonRpcCaller, feed: str, selector: str,
                    types: tuple[str, ...]) -> tuple[Any, ...]:
    """``eth_call`` a no-argument view function and decode its static return values strictly."""
    try:
        result = await upstream.call("eth_call", [{"to": feed, "data": selector}, "latest"])
    except RpcError as exc:
        # The node's error object (a revert: no aggregator at that address) or no answer at all.
        raise _UnreadableFeed(f"{selector}: {exc.message}") from exc
    if not isinstance(result, str) or not _HEX_DATA.fullmatch(result):
        raise _UnreadableFeed(f"{selector}: answer is not hex data")
    data = bytes.fromhex(result[2:])
    # Exactly the static words expected: an empty answer (no contract there) or a longer one
    # (some other function behind the selector) is not an aggregator's answer.
    if len(data) != _WORD * len(types):
        raise _UnreadableFeed(f"{selector}: answer has {len(data)} bytes, "
                              f"expected {_WORD * len(types)}")
    try:
        return tuple(abi_decode(types, data))
    except DecodingError as exc:
        raise _UnreadableFeed(f"{selector}: answer does not decode as {types}") from exc
