"""Approval selectors sent anywhere but a configured token (POLICY.md catalogue 11).

An allowlisted NFT collection, vault or unconfigured ERC-20 honours `setApprovalForAll`,
`approve` and `increaseAllowance` exactly as a configured token would, so the decoder reads
these selectors before any allowlist is consulted: `setApprovalForAll(operator, true)` is never
signed, an allowance of an asset nobody can price is refused, and Permit2's `approve` is valued
as the allowance it names wherever it is sent. The call itself must still be allowed as a call.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from eth_abi import decode, encode
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from session_studio.policy import (
    ATOMS_PER_UNIT,
    USD,
    Decision,
    IntentKind,
    Permission,
    PriceBook,
    ReasonCode,
    SessionPolicy,
    SessionState,
    TransactionRequest,
    Undecodable,
    decode_transaction,
    evaluate_transaction,
)

from .builders import (
    ASSETS,
    CHAIN,
    CONTRACT,
    GWEI,
    NOW_MS,
    PERMIT2,
    RECIPIENT,
    ROUTER,
    SEL_APPROVE,
    SEL_INCREASE_ALLOWANCE,
    SEL_PERMIT2_APPROVE,
    SEL_SET_APPROVAL_FOR_ALL,
    SENDER,
    SPENDER,
    STRANGER,
    TOKENS,
    UNPRICED_ADDRESS,
    USDC_ADDRESS,
    WBTC_ADDRESS,
    approve_data,
    decide,
    increase_allowance_data,
    make_policy,
    make_tx,
    permit2_approve_data,
    set_approval_for_all_data,
    usd,
)

P = Permission
NFT = CONTRACT  # an allowlisted contract that is not a configured token
GAS = 100_000  # at 1 gwei and $3000/ETH: $0.30
GAS_COST = usd("0.3")
EVERYTHING = frozenset(P)


def refused_for(decision: Decision, reason: ReasonCode) -> bool:
    return not decision.allowed and decision.reason is reason and decision.cost == 0


def call(data: bytes, to: str = NFT, value: int = 0) -> TransactionRequest:
    return make_tx(to=to, value=value, data=data, gas=GAS)


def caller(permissions: frozenset[P] = EVERYTHING, selectors: frozenset[str] | None = None,
           **changes: object) -> SessionPolicy:
    """A session that may call NFT (any selector unless `selectors`), per-tx $10."""
    return make_policy(permissions=permissions, contracts={NFT: selectors}, **changes)


def kinds(tx: TransactionRequest) -> list[IntentKind]:
    decoded = decode_transaction(tx, ASSETS)
    assert not isinstance(decoded, Undecodable), decoded
    return [intent.kind for intent in decoded]


# -- setApprovalForAll ----------------------------------------------------------------------

def test_set_approval_for_all_to_an_allowlisted_contract_is_refused() -> None:
    decision = decide(call(set_approval_for_all_data(STRANGER, True)), policy=caller())
    assert refused_for(decision, ReasonCode.PERMISSION_DENIED)
    assert "setApprovalForAll" in decision.detail


def test_set_approval_for_all_is_refused_even_when_its_selector_is_allowlisted() -> None:
    policy = caller(selectors=frozenset({"0x" + SEL_SET_APPROVAL_FOR_ALL.hex()}))
    assert refused_for(decide(call(set_approval_for_all_data(STRANGER, True)), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_set_approval_for_all_to_a_router_is_refused_whatever_swap_allows() -> None:
    decision = decide(call(set_approval_for_all_data(STRANGER, True), to=ROUTER),
                      policy=make_policy(permissions=EVERYTHING))
    assert refused_for(decision, ReasonCode.PERMISSION_DENIED)


def test_set_approval_for_all_to_an_unlisted_contract_names_the_approval() -> None:
    assert refused_for(decide(call(set_approval_for_all_data(STRANGER, True)),
                              policy=make_policy(permissions=EVERYTHING)),
                       ReasonCode.PERMISSION_DENIED)


def test_set_approval_for_all_revocation_is_an_ordinary_allowlisted_call() -> None:
    assert kinds(call(set_approval_for_all_data(STRANGER, False))) == [
        IntentKind.CONTRACT_CALL, IntentKind.GAS]
    decision = decide(call(set_approval_for_all_data(STRANGER, False)),
                      policy=caller(frozenset({P.CONTRACT_CALL})))
    assert (decision.allowed, decision.cost) == (True, GAS_COST)


def test_set_approval_for_all_revocation_to_an_unlisted_contract_stays_refused() -> None:
    assert refused_for(decide(call(set_approval_for_all_data(STRANGER, False)),
                              policy=make_policy(permissions=EVERYTHING)),
                       ReasonCode.CONTRACT_NOT_ALLOWED)


@pytest.mark.parametrize("data", [
    set_approval_for_all_data(STRANGER, True)[:-1],
    set_approval_for_all_data(STRANGER, False) + b"\x00",
    SEL_SET_APPROVAL_FOR_ALL + encode(["address", "uint256"], [STRANGER, 2]),
    SEL_SET_APPROVAL_FOR_ALL + b"\xff" * 12 + bytes.fromhex(STRANGER[2:]) + b"\x00" * 32,
], ids=["short", "trailing-byte", "bool-2", "dirty-address"])
def test_set_approval_for_all_that_does_not_decode_exactly_is_undecodable(data: bytes) -> None:
    # The contract's own decoder may read any of these as `true`: never guess which.
    assert refused_for(decide(call(data), policy=caller()), ReasonCode.UNDECODABLE_REQUEST)


# -- approve / increaseAllowance of an asset the sidecar does not know ------------------------

@pytest.mark.parametrize("data", [approve_data(SPENDER, 2**256 - 1),
                                  increase_allowance_data(SPENDER, 2**255)],
                         ids=["approve", "increaseAllowance"])
def test_unlimited_approve_to_an_allowlisted_contract_is_refused(data: bytes) -> None:
    decision = decide(call(data), policy=caller())
    assert refused_for(decision, ReasonCode.PERMISSION_DENIED)
    assert "unlimited" in decision.detail


@pytest.mark.parametrize("data", [approve_data(SPENDER, 1), increase_allowance_data(SPENDER, 1),
                                  approve_data(SPENDER, 0)],
                         ids=["approve", "increaseAllowance", "approve-zero"])
def test_bounded_approve_of_an_unknown_asset_is_unpriceable(data: bytes) -> None:
    # Zero too: ERC-721's approve(to, tokenId) shares the selector, and token 0 is a token.
    decision = decide(call(data), policy=caller())
    assert refused_for(decision, ReasonCode.UNPRICEABLE_ASSET)
    assert NFT in decision.detail


def test_approve_selector_listed_on_the_allowlist_does_not_make_it_a_call() -> None:
    policy = caller(selectors=frozenset({"0x" + SEL_APPROVE.hex()}))
    assert refused_for(decide(call(approve_data(SPENDER, 1)), policy=policy),
                       ReasonCode.UNPRICEABLE_ASSET)


def test_approve_to_an_allowlisted_contract_without_the_approve_permission_is_refused() -> None:
    decision = decide(call(approve_data(SPENDER, 1)),
                      policy=caller(frozenset({P.CONTRACT_CALL})))
    assert refused_for(decision, ReasonCode.PERMISSION_DENIED)
    assert "'approve'" in decision.detail


def test_approve_to_a_router_is_refused_whatever_swap_allows() -> None:
    assert refused_for(decide(call(approve_data(SPENDER, 1), to=ROUTER),
                              policy=make_policy(permissions=EVERYTHING)),
                       ReasonCode.UNPRICEABLE_ASSET)


def test_approve_with_a_trailing_byte_to_an_allowlisted_contract_is_undecodable() -> None:
    assert refused_for(decide(call(approve_data(SPENDER, 1) + b"\x00"), policy=caller()),
                       ReasonCode.UNDECODABLE_REQUEST)


def test_approve_to_a_configured_token_is_still_valued_as_that_token() -> None:
    decision = decide(call(approve_data(SPENDER, 5_000_000), to=USDC_ADDRESS),
                      policy=make_policy(permissions=frozenset({P.APPROVE})))
    assert (decision.allowed, decision.cost) == (True, usd("5") + GAS_COST)


# -- Permit2's approve, sent elsewhere than Permit2 -----------------------------------------

def test_permit2_approve_to_an_allowlisted_contract_is_charged_as_the_allowance() -> None:
    tx = call(permit2_approve_data(USDC_ADDRESS, SPENDER, 5_000_000))
    assert kinds(tx) == [IntentKind.TOKEN_APPROVAL, IntentKind.CONTRACT_CALL, IntentKind.GAS]
    decision = decide(tx, policy=caller())
    assert (decision.allowed, decision.cost) == (True, usd("5") + GAS_COST)


def test_permit2_approve_elsewhere_over_the_per_tx_limit_is_refused() -> None:
    assert refused_for(decide(call(permit2_approve_data(USDC_ADDRESS, SPENDER, 11_000_000)),
                              policy=caller()),
                       ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_unlimited_permit2_approve_elsewhere_is_refused() -> None:
    assert refused_for(decide(call(permit2_approve_data(USDC_ADDRESS, SPENDER, 2**159)),
                              policy=caller(per_tx=2**400, daily=2**400)),
                       ReasonCode.PERMISSION_DENIED)


def test_permit2_approve_elsewhere_of_an_unknown_token_is_unpriceable() -> None:
    assert refused_for(decide(call(permit2_approve_data(STRANGER, SPENDER, 1)), policy=caller()),
                       ReasonCode.UNPRICEABLE_ASSET)


def test_permit2_approve_elsewhere_needs_the_approve_permission() -> None:
    assert refused_for(decide(call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1)),
                              policy=caller(frozenset({P.CONTRACT_CALL}))),
                       ReasonCode.PERMISSION_DENIED)


def test_permit2_approve_elsewhere_to_a_spender_outside_the_recipients_is_refused() -> None:
    policy = caller(recipients=frozenset({RECIPIENT}))
    assert refused_for(decide(call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1)),
                              policy=policy),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_permit2_approve_elsewhere_still_needs_the_call_to_be_allowed() -> None:
    # Valuing the approval adds a check; it never replaces the allowlist for the call itself.
    assert refused_for(decide(call(permit2_approve_data(USDC_ADDRESS, SPENDER, 1)),
                              policy=make_policy(permissions=EVERYTHING)),
                       ReasonCode.CONTRACT_NOT_ALLOWED)


def test_multicall_is_trusted_only_as_far_as_its_contract_is() -> None:
    # Only the outer call is visible (POLICY.md catalogue 3): an approval wrapped in a multicall
    # is refused unless the multicall contract itself is allowlisted.
    wrapped = bytes.fromhex("ac9650d8") + encode(["bytes[]"], [[approve_data(SPENDER, 1)]])
    assert refused_for(decide(call(wrapped, to=STRANGER), policy=caller()),
                       ReasonCode.CONTRACT_NOT_ALLOWED)


# -- property ---------------------------------------------------------------------------------

APPROVAL_ABIS: dict[bytes, tuple[str, ...]] = {
    SEL_APPROVE: ("address", "uint256"),
    SEL_INCREASE_ALLOWANCE: ("address", "uint256"),
    SEL_PERMIT2_APPROVE: ("address", "address", "uint160", "uint48"),
    SEL_SET_APPROVAL_FOR_ALL: ("address", "bool"),
}
PRICES = {"ETH": Fraction(3000), "USDC": Fraction(1), "DAI": Fraction(1), "WBTC": Fraction(60000)}
KNOWN = {t.address: t for t in TOKENS if t.address is not None}
DESTINATIONS = [NFT, STRANGER, ROUTER, PERMIT2, USDC_ADDRESS, WBTC_ADDRESS, UNPRICED_ADDRESS]
ADDRESS_ARGS = [SPENDER, STRANGER, RECIPIENT, SENDER, *KNOWN]


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def rarely_any_word(clean: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """`clean` words seven times in eight, else any 32 bytes (dirty padding, out of range)."""
    return st.tuples(st.booleans(), st.booleans(), st.booleans()).flatmap(
        lambda flips: st.binary(min_size=32, max_size=32) if all(flips) else clean)


def amounts(bits: int) -> st.SearchStrategy[bytes]:
    edges = [0, 1, 10**6, 10**7, 2**(bits - 1) - 1, 2**(bits - 1), 2**bits - 1]
    return rarely_any_word(st.one_of(st.sampled_from(edges), st.integers(0, 10**30),
                                     st.integers(0, 2**bits - 1)).map(word))


ARG_WORDS: dict[str, st.SearchStrategy[bytes]] = {
    "address": rarely_any_word(st.sampled_from(ADDRESS_ARGS).map(
        lambda a: bytes.fromhex(a[2:]).rjust(32, b"\x00"))),
    "uint256": amounts(256), "uint160": amounts(160), "uint48": amounts(48),
    "bool": st.sampled_from([0, 1, 1, 0, 2]).map(word),
}


@st.composite
def approval_calldata(draw: st.DrawFn) -> bytes:
    """An approval selector, then well-formed arguments, near misses or any bytes at all."""
    selector = draw(st.sampled_from(list(APPROVAL_ABIS)))
    if draw(st.sampled_from(["typed", "typed", "typed", "random"])) == "random":
        return selector + draw(st.binary(max_size=200))
    body = b"".join(draw(ARG_WORDS[t]) for t in APPROVAL_ABIS[selector])
    return selector + body + draw(st.sampled_from([b""] * 6 + [b"\x00", b"\x00" * 32]))


def approval_value(data: bytes, to: str, unit: str) -> Fraction | None:
    """Independently: unit atoms the call grants when it is a canonical, bounded approval of a
    configured, priced token; None when nothing may be signed for it (a grant that cannot be
    valued, an unlimited one, an operator for everything, or calldata that is not canonical);
    0 for a canonical `setApprovalForAll(operator, false)`, which grants nothing."""
    selector, types = data[:4], APPROVAL_ABIS[data[:4]]
    try:
        args = decode(list(types), data[4:])
    except Exception:
        return None
    if selector + encode(list(types), list(args)) != data:
        return None
    if selector == SEL_SET_APPROVAL_FOR_ALL:
        return None if args[1] else Fraction(0)
    if selector == SEL_PERMIT2_APPROVE:
        token, amount, bits = KNOWN.get(str(args[0]).lower()), args[2], 160
    else:
        token, amount, bits = KNOWN.get(to), args[1], 256
    if token is None or amount >= 2 ** (bits - 1):
        return None
    if amount == 0:
        return Fraction(0)  # an allowance of nothing of a configured ERC-20, priced or not
    if token.symbol not in PRICES:
        return None
    whole = Fraction(amount, 10**token.decimals)
    unit_usd = Fraction(1) if unit == USD else PRICES[unit]
    return whole * PRICES[token.symbol] / unit_usd * ATOMS_PER_UNIT


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=approval_calldata(), to=st.sampled_from(DESTINATIONS),
       selectors=st.one_of(st.none(), st.just("own")),
       unit=st.sampled_from([USD, "USDC", "ETH"]),
       per_tx=st.sampled_from([0, usd("1"), usd("10"), usd("1000000"), 2**300]),
       gas=st.sampled_from([0, 21_000, GAS]))
def test_an_approval_selector_to_an_allowlisted_contract_is_never_signed_unvalued(
    data: bytes, to: str, selectors: str | None, unit: str, per_tx: int, gas: int,
) -> None:
    # The most permissive session: every permission, every token, `to` allowlisted (with any
    # selector, or exactly this one). Only the valuation can stand between it and a signature.
    listed = None if selectors is None else frozenset({"0x" + data[:4].hex()})
    policy = SessionPolicy(permissions=EVERYTHING, chain_ids=frozenset({CHAIN}),
                           tokens=frozenset({"ETH", "USDC", "DAI", "WBTC", "NOPRICE"}),
                           unit=unit, per_tx=per_tx, daily=2**400, contracts={to: listed})
    tx = TransactionRequest(chain_id=CHAIN, declared_chain_id=CHAIN, sender=SENDER, to=to,
                            value=0, data=data, gas=gas, max_fee_per_gas=GWEI, tx_type=2)
    decision = evaluate_transaction(
        policy=policy, state=SessionState(revoked=False, expires_at_ms=NOW_MS + 1,
                                          spent_in_window=0),
        tx=tx, decoded=decode_transaction(tx, ASSETS),
        prices=PriceBook({(CHAIN, s): p for s, p in PRICES.items()}), now_ms=NOW_MS)
    event(f"{data[:4].hex()} {decision.reason}")
    if not decision.allowed:
        return
    granted = approval_value(data, to, unit)
    assert granted is not None, f"signed an approval it could not value: {data.hex()} to {to}"
    gas_value = Fraction(gas * GWEI, 10**18) * PRICES["ETH"] / (
        Fraction(1) if unit == USD else PRICES[unit]) * ATOMS_PER_UNIT
    assert granted + gas_value <= decision.cost <= per_tx
