"""Properties of the whole engine over random policies, requests, prices and usage.

(a) Whatever is allowed is fully understood, priced, within both limits, and charged at least
    its true value (computed here independently with fractions).
(b) Calldata to a token is allowed only when it is exactly a canonical ERC-20 transfer,
    transferFrom of the session's own funds, or a bounded approve / increaseAllowance.
(c) Accumulating allowed costs into the window never exceeds the daily limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from eth_abi import decode, encode
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from session_studio.policy import (
    ATOMS_PER_UNIT,
    USD,
    Asset,
    Intent,
    IntentKind,
    Permission,
    PriceBook,
    ReasonCode,
    SessionPolicy,
    SessionState,
    TransactionRequest,
    decode_transaction,
    evaluate_transaction,
    format_amount,
)

from .builders import (
    ASSETS,
    CHAIN,
    CONTRACT,
    DAI,
    ETH,
    GWEI,
    NOW_MS,
    OTHER_CHAIN,
    RECIPIENT,
    SEL_APPROVE,
    SEL_INCREASE_ALLOWANCE,
    SEL_SET_APPROVAL_FOR_ALL,
    SEL_TRANSFER,
    SEL_TRANSFER_FROM,
    SENDER,
    SPENDER,
    STRANGER,
    TOKENS,
    USDC,
    WBTC,
)

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
SYMBOLS = ("ETH", "USDC", "DAI", "WBTC", "NOPRICE", "EURC")  # EURC: a unit with no asset here
TOKEN_ABIS: dict[bytes, tuple[str, ...]] = {
    SEL_TRANSFER: ("address", "uint256"),
    SEL_TRANSFER_FROM: ("address", "address", "uint256"),
    SEL_APPROVE: ("address", "uint256"),
    SEL_INCREASE_ALLOWANCE: ("address", "uint256"),
    SEL_SET_APPROVAL_FOR_ALL: ("address", "bool"),
}
SPENDING = {IntentKind.NATIVE_TRANSFER: Permission.TRANSFER,
            IntentKind.TOKEN_TRANSFER: Permission.TRANSFER,
            IntentKind.TOKEN_APPROVAL: Permission.APPROVE}


# -- strategies -----------------------------------------------------------------------------

def scaled(min_exp: int, max_exp: int) -> st.SearchStrategy[int]:
    """Integers spread over many orders of magnitude (m * 10**e)."""
    return st.builds(lambda m, e: m * 10**e, st.integers(1, 999), st.integers(min_exp, max_exp))


def mostly(usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]
           ) -> st.SearchStrategy[Any]:
    """`usual` seven times in eight, else `unusual`.

    Repeating a branch in `one_of` does not weight it, so the odds come from three coin flips."""
    return st.tuples(st.booleans(), st.booleans(), st.booleans()).flatmap(
        lambda flips: unusual if all(flips) else usual)


def rarely(usual: object, *unusual: object) -> st.SearchStrategy[Any]:
    """`usual` seven times in eight, else one of `unusual`."""
    return mostly(st.just(usual), st.sampled_from(unusual))


uint256 = st.one_of(
    st.integers(0, 10**8), st.integers(0, 10**30), scaled(0, 60), st.integers(0, 2**256 - 1),
    st.sampled_from([0, 1, 2**255 - 1, 2**255, 2**256 - 1]))
addresses = st.sampled_from([SENDER, RECIPIENT, SPENDER, STRANGER, CONTRACT])
positive_price = st.fractions(min_value=Fraction(1, 10**6), max_value=10**6)
price = mostly(positive_price, st.sampled_from([None, Fraction(0)]))


@st.composite
def price_tables(draw: st.DrawFn, *, gaps: bool = True) -> dict[str, Fraction]:
    """USD prices on CHAIN by symbol; with `gaps`, missing and zero prices too."""
    table = {sym: draw(price if gaps else positive_price) for sym in SYMBOLS}
    if not gaps:
        del table["NOPRICE"]
    return {sym: p for sym, p in table.items() if p is not None}


def price_book(table: dict[str, Fraction]) -> PriceBook:
    return PriceBook({(CHAIN, sym): p for sym, p in table.items()})


permissive_policy = st.builds(
    SessionPolicy,
    permissions=st.just(frozenset({Permission.TRANSFER, Permission.APPROVE})),
    chain_ids=st.just(frozenset({CHAIN})),
    tokens=st.just(frozenset(SYMBOLS)),
    unit=st.sampled_from((USD, *SYMBOLS)),
    per_tx=scaled(14, 24), daily=scaled(14, 26), max_fee_per_gas=st.none())


@st.composite
def tight_policies(draw: st.DrawFn) -> SessionPolicy:
    """Permissive, in a priced unit, with a daily limit a few per-tx limits wide."""
    policy = draw(permissive_policy)
    unit = draw(st.sampled_from([USD, "ETH", "USDC", "DAI", "WBTC", "EURC"]))
    return SessionPolicy(permissions=policy.permissions, chain_ids=policy.chain_ids,
                         tokens=policy.tokens, unit=unit, per_tx=policy.per_tx,
                         daily=policy.per_tx * draw(st.integers(1, 10)))


random_policy = st.builds(
    SessionPolicy,
    permissions=st.frozensets(st.sampled_from(list(Permission))),
    chain_ids=st.frozensets(st.sampled_from([CHAIN, OTHER_CHAIN])),
    tokens=st.frozensets(st.sampled_from(SYMBOLS)),
    unit=st.sampled_from((USD, *SYMBOLS)),
    per_tx=st.one_of(scaled(0, 30), st.integers(0, 10)),
    daily=st.one_of(scaled(0, 30), st.integers(0, 10)),
    max_fee_per_gas=st.one_of(st.none(), scaled(0, 12)))
policies = mostly(permissive_policy, random_policy)


@st.composite
def token_calldata(draw: st.DrawFn) -> bytes:
    """Valid ERC-20 encodings, sometimes cut short or with bytes appended."""
    selector = draw(st.sampled_from(list(TOKEN_ABIS)))
    values = [draw(addresses) if t == "address" else draw(st.booleans()) if t == "bool"
              else draw(uint256) for t in TOKEN_ABIS[selector]]
    data = selector + encode(list(TOKEN_ABIS[selector]), values)
    mangle = draw(st.sampled_from(["none", "cut", "append"]))
    if mangle == "cut":
        return data[:draw(st.integers(0, len(data) - 1))]
    if mangle == "append":
        return data + draw(st.binary(min_size=1, max_size=40))
    return data


calldata = st.one_of(st.just(b""), token_calldata(), st.binary(max_size=140))


@st.composite
def requests(draw: st.DrawFn) -> TransactionRequest:
    """Plain native transfers, calls to configured tokens, and anything at all."""
    kind = draw(st.sampled_from(["native", "token", "anything"]))
    if kind == "native":
        to, data = RECIPIENT, b""
        value = draw(st.one_of(st.just(0), scaled(0, 19)))
    elif kind == "token":
        to, data = draw(st.sampled_from([t.address for t in TOKENS])), draw(token_calldata())
        value = draw(rarely(0, 1, 10**15))
    else:
        to = draw(st.sampled_from([None, RECIPIENT, CONTRACT, *(t.address for t in TOKENS)]))
        data = draw(calldata)
        value = draw(st.one_of(st.just(0), scaled(0, 19), st.integers(0, 2**256 - 1)))
    return TransactionRequest(
        chain_id=CHAIN, declared_chain_id=draw(rarely(CHAIN, None, OTHER_CHAIN)), sender=SENDER,
        to=to, value=value, data=data,
        gas=draw(mostly(st.integers(21_000, 300_000), st.integers(0, 10**8))),
        max_fee_per_gas=draw(mostly(scaled(6, 10), st.integers(0, 10**13))),
        tx_type=draw(rarely(2, 0, 1, 4)),
        has_authorization_list=draw(rarely(False, True)),
    )


@st.composite
def states(draw: st.DrawFn, policy: SessionPolicy) -> SessionState:
    return SessionState(
        revoked=draw(rarely(False, True)),
        expires_at_ms=NOW_MS + draw(rarely(3_600_000, 1, 0, -1)),
        spent_in_window=draw(st.one_of(st.just(0), st.integers(0, max(policy.daily, 0)))))


@dataclass(frozen=True)
class Scenario:
    policy: SessionPolicy
    state: SessionState
    tx: TransactionRequest
    prices: dict[str, Fraction]
    chain_cap: int | None


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    policy = draw(policies)
    return Scenario(policy=policy, state=draw(states(policy)), tx=draw(requests()),
                    prices=draw(price_tables()),
                    chain_cap=draw(st.one_of(st.none(), scaled(6, 12))))


# -- independent oracles --------------------------------------------------------------------

def true_value(intent: Intent, unit: str, prices: dict[str, Fraction]) -> Fraction | None:
    """Exact worth of an intent in unit atoms; None when it cannot be valued."""
    if intent.amount == 0:
        return Fraction(0)
    if intent.asset is None:
        return None
    whole = Fraction(intent.amount, 10**intent.asset.decimals)
    if intent.asset.symbol == unit:
        return whole * ATOMS_PER_UNIT
    asset_usd = prices.get(intent.asset.symbol, Fraction(0))
    unit_usd = Fraction(1) if unit == USD else prices.get(unit, Fraction(0))
    if asset_usd <= 0 or unit_usd <= 0:
        return None
    return whole * asset_usd / unit_usd * ATOMS_PER_UNIT


def canonical_token_call(data: bytes, sender: str) -> bool:
    """Exactly selector + abi.encode(args) of a spend the session may make with a token."""
    if not data:
        return True  # no calldata: a plain native transfer (of zero here), like to any address
    types = TOKEN_ABIS.get(data[:4])
    if types is None or data[:4] == SEL_SET_APPROVAL_FOR_ALL:
        return False
    try:
        args = decode(list(types), data[4:])
    except Exception:
        return False
    if data[:4] + encode(list(types), list(args)) != data:
        return False
    if data[:4] == SEL_TRANSFER_FROM and str(args[0]).lower() != sender:
        return False
    return not (data[:4] in (SEL_APPROVE, SEL_INCREASE_ALLOWANCE) and args[1] >= 2**255)


# -- (a) -------------------------------------------------------------------------------------

@PROPERTY
@given(scenarios())
def test_allowed_requests_are_understood_priced_within_limits_and_never_undercharged(
    s: Scenario,
) -> None:
    decoded = decode_transaction(s.tx, ASSETS)
    decision = evaluate_transaction(
        policy=s.policy, state=s.state, tx=s.tx, decoded=decoded, prices=price_book(s.prices),
        now_ms=NOW_MS, chain_max_fee_per_gas=s.chain_cap)
    event(str(decision.reason))
    if not decision.allowed:
        assert isinstance(decision.reason, ReasonCode) and decision.cost == 0
        return
    assert isinstance(decoded, tuple)
    assert not s.state.revoked and s.state.expires_at_ms > NOW_MS
    assert s.tx.chain_id in s.policy.chain_ids
    assert s.tx.declared_chain_id in (None, s.tx.chain_id)
    assert s.tx.tx_type != 4 and not s.tx.has_authorization_list
    caps = [c for c in (s.policy.max_fee_per_gas, s.chain_cap) if c is not None]
    assert all(s.tx.max_fee_per_gas <= c for c in caps)
    exact = Fraction(0)
    for intent in decoded:
        assert intent.kind in (*SPENDING, IntentKind.GAS)
        assert intent.asset is not None
        if intent.kind in SPENDING:
            assert SPENDING[intent.kind] in s.policy.permissions
            assert intent.asset.symbol in s.policy.tokens
            assert not intent.unlimited
        value = true_value(intent, s.policy.unit, s.prices)
        assert value is not None, f"allowed an unpriceable {intent}"
        exact += value
    assert exact <= decision.cost < exact + len(decoded)
    assert decision.cost <= s.policy.per_tx
    assert s.state.spent_in_window + decision.cost <= s.policy.daily
    assert decision.figures["cost"] == format_amount(decision.cost)


# -- (b) -------------------------------------------------------------------------------------

def word(raw: bytes) -> bytes:
    return raw.rjust(32, b"\x00")


address_word = mostly(addresses.map(lambda a: word(bytes.fromhex(a[2:]))),
                      st.binary(min_size=20, max_size=20).map(word))
uint_word = st.one_of(uint256.map(lambda n: n.to_bytes(32, "big")),
                      st.binary(min_size=32, max_size=32))
bool_word = st.integers(0, 3).map(lambda n: n.to_bytes(32, "big"))


def rarely_dirty(clean: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return mostly(clean, st.binary(min_size=32, max_size=32))


@st.composite
def token_call_data(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes; ABI-shaped bodies behind real selectors, mostly clean, sometimes not."""
    shape = draw(st.sampled_from(["random", "typed", "words"]))
    if shape == "random":
        return draw(st.binary(max_size=140))
    if shape == "words":
        selector = draw(st.one_of(st.sampled_from(list(TOKEN_ABIS)),
                                  st.binary(min_size=4, max_size=4)))
        words = draw(st.lists(st.one_of(address_word, uint_word, bool_word), max_size=4))
        return selector + b"".join(words) + draw(st.binary(max_size=40))
    selector = draw(st.sampled_from(list(TOKEN_ABIS)))
    typed = {"address": address_word, "uint256": uint_word, "bool": bool_word}
    body = b"".join(draw(rarely_dirty(typed[t])) for t in TOKEN_ABIS[selector])
    return selector + body + draw(rarely(b"", b"\x00", b"\x00" * 32, b"\x01"))


@PROPERTY
@given(token=st.sampled_from([USDC, DAI, WBTC]), data=token_call_data())
def test_token_calldata_is_allowed_exactly_when_it_is_a_canonical_spend(
    token: Asset, data: bytes,
) -> None:
    tx = TransactionRequest(chain_id=CHAIN, declared_chain_id=CHAIN, sender=SENDER,
                            to=token.address, value=0, data=data, gas=0,
                            max_fee_per_gas=GWEI, tx_type=2)
    unbounded = SessionPolicy(
        permissions=frozenset(Permission), chain_ids=frozenset({CHAIN}),
        tokens=frozenset(SYMBOLS), unit=USD, per_tx=2**400, daily=2**400)
    prices = PriceBook({(CHAIN, "ETH"): Fraction(3000), (CHAIN, "USDC"): Fraction(1),
                        (CHAIN, "DAI"): Fraction(1), (CHAIN, "WBTC"): Fraction(60000)})
    decision = evaluate_transaction(
        policy=unbounded, state=SessionState(revoked=False, expires_at_ms=NOW_MS + 1,
                                             spent_in_window=0),
        tx=tx, decoded=decode_transaction(tx, ASSETS), prices=prices, now_ms=NOW_MS)
    event(f"{decision.allowed} {data[:4].hex()}")
    assert decision.allowed == canonical_token_call(data, SENDER), decision


# -- (c) -------------------------------------------------------------------------------------

@st.composite
def everyday_requests(draw: st.DrawFn, policy: SessionPolicy,
                      prices: dict[str, Fraction]) -> TransactionRequest:
    """Spends sized around the per-tx limit, so that many are allowed and the window fills."""
    token = draw(st.sampled_from([None, USDC, DAI, WBTC]))
    asset = ETH if token is None else token
    target = policy.per_tx * Fraction(draw(st.integers(10, 120)), 100)
    if asset.symbol == policy.unit:
        whole = target / ATOMS_PER_UNIT
    else:
        unit_usd = Fraction(1) if policy.unit == USD else prices[policy.unit]
        whole = target / ATOMS_PER_UNIT * unit_usd / prices[asset.symbol]
    amount = int(whole * 10**asset.decimals)
    to, value, data = RECIPIENT, amount, b""
    if token is not None:
        assert token.address is not None
        selector = draw(st.sampled_from([SEL_TRANSFER, SEL_APPROVE, SEL_INCREASE_ALLOWANCE]))
        to, value = token.address, 0
        data = selector + encode(["address", "uint256"], [RECIPIENT, amount])
    return TransactionRequest(
        chain_id=CHAIN, declared_chain_id=CHAIN, sender=SENDER, to=to, value=value, data=data,
        gas=draw(st.integers(21_000, 200_000)),
        max_fee_per_gas=draw(st.sampled_from([0, 1, 10**6, GWEI])), tx_type=2)


@settings(PROPERTY, max_examples=150)
@given(data=st.data(), policy=tight_policies(), prices=price_tables(gaps=False))
def test_accumulated_allowed_costs_never_exceed_the_daily_limit(
    data: st.DataObject, policy: SessionPolicy, prices: dict[str, Fraction],
) -> None:
    book = price_book(prices)
    sequence = data.draw(st.lists(
        mostly(everyday_requests(policy, prices), requests()), min_size=1, max_size=20))
    spent = 0  # the ledger: a running sum of what was allowed
    for tx in sequence:
        state = SessionState(revoked=False, expires_at_ms=NOW_MS + 1, spent_in_window=spent)
        decision = evaluate_transaction(
            policy=policy, state=state, tx=tx, decoded=decode_transaction(tx, ASSETS),
            prices=book, now_ms=NOW_MS)
        event(str(decision.reason))
        if decision.allowed:
            assert decision.cost <= policy.per_tx
            spent += decision.cost
        assert spent <= policy.daily
