"""Allowlists and the rate limit: routers (swap), contracts (contract_call), recipients.

Only the outer call of a transaction is visible, so a call is trusted exactly as far as the
contract it is sent to: a router of the chain's config with `swap`, a contract of the session's
allowlist (and selector list) with `contract_call`. Both cost the native value sent, plus gas.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from eth_abi import encode
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from session_studio.policy import (
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
    evaluate_message,
    evaluate_transaction,
)

from .builders import (
    ASSETS,
    CHAIN,
    CONTRACT,
    GWEI,
    NOW_MS,
    OTHER_CHAIN,
    RECIPIENT,
    ROUTER,
    SENDER,
    SPENDER,
    STRANGER,
    TOKENS,
    USDC,
    USDC_ADDRESS,
    approve_data,
    decide,
    decide_typed,
    eip2612_permit,
    increase_allowance_data,
    make_policy,
    make_state,
    make_tx,
    set_approval_for_all_data,
    token_call,
    transfer_data,
    transfer_from_data,
    usd,
)

P = Permission
SWAPPER = make_policy(permissions=frozenset({P.SWAP}))
CALLER = make_policy(permissions=frozenset({P.CONTRACT_CALL}), contracts={CONTRACT: None})
EXACT_INPUT = bytes.fromhex("b858183f") + b"\x00" * 64  # exactInput((bytes,address,...))
MULTICALL = bytes.fromhex("ac9650d8")  # multicall(bytes[])
# 0.001 ETH sent plus 100000 gas at 1 gwei: $3 + $0.30.
VALUE, GAS = 10**15, 100_000
VALUE_AND_GAS = usd("3.3")


def refused_for(decision: Decision, reason: ReasonCode) -> bool:
    return not decision.allowed and decision.reason is reason and decision.cost == 0


def call(to: str, data: bytes = EXACT_INPUT, value: int = VALUE) -> TransactionRequest:
    return make_tx(to=to, value=value, data=data, gas=GAS)


def multicall(*calls: bytes) -> bytes:
    return MULTICALL + encode(["bytes[]"], [list(calls)])


# -- routers (swap) -------------------------------------------------------------------------

def test_router_call_is_decoded_as_a_swap_carrying_the_value_sent() -> None:
    decoded = decode_transaction(call(ROUTER), ASSETS)
    assert not isinstance(decoded, Undecodable)
    assert (decoded[0].kind, decoded[0].amount, decoded[0].selector) == (
        IntentKind.SWAP, VALUE, "0xb858183f")


def test_router_call_with_the_swap_permission_costs_the_value_sent_plus_gas() -> None:
    decision = decide(call(ROUTER), policy=SWAPPER)
    assert (decision.allowed, decision.cost) == (True, VALUE_AND_GAS)


@pytest.mark.parametrize("selector", ["3593564c", "12345678", "00000000"])
def test_router_call_is_allowed_whatever_its_selector(selector: str) -> None:
    assert decide(call(ROUTER, bytes.fromhex(selector)), policy=SWAPPER).allowed


def test_router_call_without_the_swap_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset(set(P) - {P.SWAP}))
    assert refused_for(decide(call(ROUTER), policy=policy), ReasonCode.PERMISSION_DENIED)


def test_router_listed_among_the_contracts_is_callable_with_contract_call() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}), contracts={ROUTER: None})
    assert decide(call(ROUTER), policy=policy).allowed


def test_router_call_needs_the_native_coin_among_the_tokens_to_send_value() -> None:
    policy = make_policy(permissions=frozenset({P.SWAP}), tokens=frozenset({"USDC"}))
    assert refused_for(decide(call(ROUTER), policy=policy), ReasonCode.TOKEN_NOT_ALLOWED)


def test_router_call_without_value_does_not_need_the_native_coin_among_the_tokens() -> None:
    policy = make_policy(permissions=frozenset({P.SWAP}), tokens=frozenset({"USDC"}))
    assert decide(call(ROUTER, value=0), policy=policy).allowed


def test_router_call_over_the_per_tx_limit_is_refused() -> None:
    assert refused_for(decide(call(ROUTER, value=4 * VALUE), policy=SWAPPER),
                       ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_router_call_taking_the_window_over_the_daily_limit_is_refused() -> None:
    state = make_state(spent_in_window=usd("100") - VALUE_AND_GAS + 1)
    assert refused_for(decide(call(ROUTER), policy=SWAPPER, state=state),
                       ReasonCode.DAILY_LIMIT_EXCEEDED)


def test_router_call_is_not_subject_to_the_recipient_list() -> None:
    policy = make_policy(permissions=frozenset({P.SWAP}), recipients=frozenset({RECIPIENT}))
    assert decide(call(ROUTER), policy=policy).allowed


def test_router_is_recognised_in_checksum_case() -> None:
    assert decide(call(to_checksum_address(ROUTER)), policy=SWAPPER).allowed


def test_plain_value_to_a_router_is_a_native_transfer_needing_transfer() -> None:
    assert refused_for(decide(call(ROUTER, data=b""), policy=SWAPPER),
                       ReasonCode.PERMISSION_DENIED)


def test_router_call_above_the_gas_price_cap_is_refused() -> None:
    policy = make_policy(permissions=frozenset({P.SWAP}), max_fee_per_gas=GWEI - 1)
    assert refused_for(decide(call(ROUTER), policy=policy), ReasonCode.GAS_PRICE_TOO_HIGH)


# -- contracts (contract_call) --------------------------------------------------------------

def test_allowlisted_contract_call_costs_the_value_sent_plus_gas() -> None:
    decision = decide(call(CONTRACT), policy=CALLER)
    assert (decision.allowed, decision.cost) == (True, VALUE_AND_GAS)


def test_allowlisted_contract_without_a_selector_list_takes_any_selector() -> None:
    assert decide(call(CONTRACT, bytes.fromhex("deadbeef")), policy=CALLER).allowed


def test_listed_selector_of_an_allowlisted_contract_is_allowed() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}),
                         contracts={CONTRACT: frozenset({"0xb858183f"})})
    assert decide(call(CONTRACT), policy=policy).allowed


def test_unlisted_selector_of_an_allowlisted_contract_is_refused() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}),
                         contracts={CONTRACT: frozenset({"0x12345678"})})
    assert refused_for(decide(call(CONTRACT), policy=policy), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_empty_selector_list_allows_no_call() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}),
                         contracts={CONTRACT: frozenset()})
    assert refused_for(decide(call(CONTRACT), policy=policy), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_calldata_shorter_than_a_selector_matches_no_selector_list() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}),
                         contracts={CONTRACT: frozenset({"0xb8580000"})})
    assert refused_for(decide(call(CONTRACT, b"\xb8\x58"), policy=policy),
                       ReasonCode.CONTRACT_NOT_ALLOWED)


def test_selector_list_is_compared_case_insensitively() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}),
                         contracts={CONTRACT: frozenset({"0xB858183F"})})
    assert decide(call(CONTRACT), policy=policy).allowed


def test_allowlisted_contract_without_the_contract_call_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset(set(P) - {P.CONTRACT_CALL}),
                         contracts={CONTRACT: None})
    assert refused_for(decide(call(CONTRACT), policy=policy), ReasonCode.PERMISSION_DENIED)


def test_contract_not_allowlisted_is_refused_even_with_every_permission() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={STRANGER: None})
    assert refused_for(decide(call(CONTRACT), policy=policy), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_contract_allowlist_lookup_ignores_the_case_of_either_address() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}),
                         contracts={to_checksum_address(CONTRACT): None})
    assert decide(call(to_checksum_address(CONTRACT)), policy=policy).allowed


def test_contract_call_needs_the_native_coin_among_the_tokens_to_send_value() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}), contracts={CONTRACT: None},
                         tokens=frozenset({"USDC"}))
    assert refused_for(decide(call(CONTRACT), policy=policy), ReasonCode.TOKEN_NOT_ALLOWED)


def test_contract_call_over_the_per_tx_limit_is_refused() -> None:
    assert refused_for(decide(call(CONTRACT, value=4 * VALUE), policy=CALLER),
                       ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_value_and_calldata_to_an_allowlisted_eoa_is_an_allowed_contract_call() -> None:
    policy = make_policy(permissions=frozenset({P.CONTRACT_CALL}), contracts={RECIPIENT: None})
    assert decide(make_tx(data=b"\x00"), policy=policy).allowed


def test_multicall_to_an_allowlisted_contract_is_allowed_on_its_outer_call_alone() -> None:
    wrapped = multicall(transfer_data(STRANGER, 10**12))  # the inner call is not visible
    assert decide(call(CONTRACT, wrapped, value=0), policy=CALLER).cost == usd("0.3")  # gas


def test_multicall_wrapping_a_transfer_to_a_contract_not_allowlisted_is_refused() -> None:
    wrapped = multicall(transfer_data(STRANGER, 1))
    policy = make_policy(permissions=frozenset(P))
    assert refused_for(decide(call(STRANGER, wrapped, value=0), policy=policy),
                       ReasonCode.CONTRACT_NOT_ALLOWED)


def test_allowlisting_a_token_does_not_make_its_unknown_functions_callable() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={USDC_ADDRESS: None})
    tx = token_call(USDC, bytes.fromhex("40c10f19") + encode(["address", "uint256"], [SENDER, 1]))
    assert refused_for(decide(tx, policy=policy), ReasonCode.UNDECODABLE_REQUEST)


def test_allowlisting_a_token_does_not_make_transfer_from_another_owner_signable() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={USDC_ADDRESS: None})
    tx = token_call(USDC, transfer_from_data(STRANGER, SENDER, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_allowlisting_a_token_does_not_make_set_approval_for_all_signable() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={USDC_ADDRESS: None})
    tx = token_call(USDC, set_approval_for_all_data(SPENDER, True))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_contract_creation_stays_refused_with_every_permission_and_allowlist() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={CONTRACT: None, ROUTER: None})
    assert refused_for(decide(make_tx(to=None, data=b"\x60\x80"), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


# -- recipients -----------------------------------------------------------------------------

LISTED = make_policy(recipients=frozenset({RECIPIENT}))


def test_native_transfer_to_a_listed_recipient_is_allowed() -> None:
    assert decide(make_tx(), policy=LISTED).allowed


def test_native_transfer_to_an_unlisted_recipient_is_refused() -> None:
    assert refused_for(decide(make_tx(to=STRANGER), policy=LISTED),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_token_transfer_to_a_listed_recipient_is_allowed() -> None:
    assert decide(token_call(USDC, transfer_data(RECIPIENT, 1)), policy=LISTED).allowed


def test_token_transfer_to_an_unlisted_recipient_is_refused() -> None:
    assert refused_for(decide(token_call(USDC, transfer_data(STRANGER, 1)), policy=LISTED),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_transfer_from_the_session_to_an_unlisted_recipient_is_refused() -> None:
    tx = token_call(USDC, transfer_from_data(SENDER, STRANGER, 1))
    assert refused_for(decide(tx, policy=LISTED), ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_approval_of_an_unlisted_spender_is_refused() -> None:
    assert refused_for(decide(token_call(USDC, approve_data(SPENDER, 1)), policy=LISTED),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_approval_of_a_listed_spender_is_allowed() -> None:
    policy = make_policy(recipients=frozenset({SPENDER}))
    assert decide(token_call(USDC, approve_data(SPENDER, 1)), policy=policy).allowed


def test_increase_allowance_of_an_unlisted_spender_is_refused() -> None:
    tx = token_call(USDC, increase_allowance_data(SPENDER, 1))
    assert refused_for(decide(tx, policy=LISTED), ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_revoking_an_approval_of_an_unlisted_spender_is_refused_too() -> None:
    tx = token_call(USDC, approve_data(SPENDER, 0))
    assert refused_for(decide(tx, policy=LISTED), ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_value_riding_along_a_token_call_needs_the_token_among_the_recipients() -> None:
    tx = token_call(USDC, transfer_data(RECIPIENT, 1), value=1)
    assert refused_for(decide(tx, policy=LISTED), ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_no_recipient_list_allows_any_recipient() -> None:
    assert decide(make_tx(to=STRANGER), policy=make_policy(recipients=None)).allowed


def test_empty_recipient_list_allows_no_transfer() -> None:
    assert refused_for(decide(make_tx(), policy=make_policy(recipients=frozenset())),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_recipient_list_is_compared_case_insensitively() -> None:
    policy = make_policy(recipients=frozenset({to_checksum_address(RECIPIENT)}))
    assert decide(make_tx(to=to_checksum_address(RECIPIENT)), policy=policy).allowed


def test_token_not_allowed_is_reported_before_the_recipient() -> None:
    policy = make_policy(tokens=frozenset({"ETH"}), recipients=frozenset({RECIPIENT}))
    tx = token_call(USDC, transfer_data(STRANGER, 1))
    assert decide(tx, policy=policy).reason is ReasonCode.TOKEN_NOT_ALLOWED


# -- the rate limit -------------------------------------------------------------------------

def test_request_below_the_rate_limit_is_allowed() -> None:
    policy = make_policy(rate_limit_per_minute=5)
    assert decide(make_tx(), policy=policy, state=make_state(requests_last_minute=4)).allowed


def test_request_at_the_rate_limit_is_refused() -> None:
    policy = make_policy(rate_limit_per_minute=5)
    assert refused_for(decide(make_tx(), policy=policy, state=make_state(requests_last_minute=5)),
                       ReasonCode.RATE_LIMITED)


def test_no_rate_limit_allows_any_request_rate() -> None:
    policy = make_policy(rate_limit_per_minute=None)
    assert decide(make_tx(), policy=policy, state=make_state(requests_last_minute=10**6)).allowed


def test_rate_limit_of_zero_refuses_every_request() -> None:
    assert refused_for(decide(make_tx(), policy=make_policy(rate_limit_per_minute=0)),
                       ReasonCode.RATE_LIMITED)


def test_rate_limit_refusal_carries_the_figures_that_explain_it() -> None:
    decision = decide(make_tx(), policy=make_policy(rate_limit_per_minute=2),
                      state=make_state(requests_last_minute=7))
    assert dict(decision.figures) == {"requests_last_minute": "7", "rate_limit_per_minute": "2"}


def test_rate_limit_applies_to_messages() -> None:
    policy = make_policy(permissions=frozenset({P.SIGN_MESSAGE}), rate_limit_per_minute=1)
    decision = evaluate_message(policy=policy, state=make_state(requests_last_minute=1),
                                chain_id=CHAIN, message=b"hello", now_ms=NOW_MS)
    assert refused_for(decision, ReasonCode.RATE_LIMITED)


def test_rate_limit_applies_to_typed_data() -> None:
    decision = decide_typed(eip2612_permit(), policy=make_policy(rate_limit_per_minute=1),
                            state=make_state(requests_last_minute=1))
    assert refused_for(decision, ReasonCode.RATE_LIMITED)


def test_revoked_beats_rate_limited() -> None:
    decision = decide(make_tx(), policy=make_policy(rate_limit_per_minute=0),
                      state=make_state(revoked=True))
    assert decision.reason is ReasonCode.SESSION_REVOKED


def test_expired_beats_rate_limited() -> None:
    decision = decide(make_tx(), policy=make_policy(rate_limit_per_minute=0),
                      state=make_state(expires_at_ms=NOW_MS))
    assert decision.reason is ReasonCode.SESSION_EXPIRED


def test_rate_limited_beats_chain_mismatch() -> None:
    decision = decide(make_tx(declared_chain_id=OTHER_CHAIN),
                      policy=make_policy(rate_limit_per_minute=0))
    assert decision.reason is ReasonCode.RATE_LIMITED


# -- properties -----------------------------------------------------------------------------

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SYMBOLS = ("ETH", "USDC", "DAI", "WBTC", "NOPRICE")
USD_PRICES = {"ETH": Fraction(3000), "USDC": Fraction(1), "DAI": Fraction(1),
              "WBTC": Fraction(60000)}
PRICE_BOOK = PriceBook({(CHAIN, s): p for s, p in USD_PRICES.items()})
ADDRESSES = [SENDER, RECIPIENT, SPENDER, STRANGER, CONTRACT, ROUTER]
TOKEN_ADDRESSES = [t.address for t in TOKENS]
SELECTORS = ["0xb858183f", "0xac9650d8", "0xa9059cbb", "0x095ea7b3", "0xdeadbeef"]
SPENDS = {IntentKind.NATIVE_TRANSFER, IntentKind.TOKEN_TRANSFER, IntentKind.TOKEN_APPROVAL}


@st.composite
def allowlist_policies(draw: st.DrawFn) -> SessionPolicy:
    contracts = draw(st.dictionaries(
        st.sampled_from([CONTRACT, ROUTER, STRANGER, RECIPIENT, *TOKEN_ADDRESSES]),
        st.one_of(st.none(), st.frozensets(st.sampled_from(SELECTORS), max_size=3)),
        max_size=3))
    per_tx = draw(st.sampled_from([usd("0.1"), usd("1"), usd("10"), usd("1000"), 2**300]))
    return SessionPolicy(
        permissions=draw(st.one_of(st.just(frozenset(P)),
                                   st.frozensets(st.sampled_from(list(P))))),
        chain_ids=frozenset({CHAIN}),
        tokens=draw(st.one_of(st.just(frozenset(SYMBOLS)),
                              st.frozensets(st.sampled_from(SYMBOLS)))),
        unit=USD, per_tx=per_tx, daily=per_tx * draw(st.integers(1, 3)),
        recipients=draw(st.one_of(st.none(), st.frozensets(st.sampled_from(ADDRESSES),
                                                           max_size=3))),
        contracts=contracts,
        rate_limit_per_minute=draw(st.sampled_from([None, None, None, 0, 3, 5])))


@st.composite
def calldata(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["empty", "selector", "token", "multicall", "random"]))
    if kind == "empty":
        return b""
    if kind == "selector":
        return bytes.fromhex(draw(st.sampled_from(SELECTORS))[2:]) + draw(
            st.binary(max_size=68))
    if kind == "token":
        to = draw(st.sampled_from(ADDRESSES))
        amount = draw(st.one_of(st.integers(0, 10**20), st.integers(0, 2**256 - 1)))
        return draw(st.sampled_from([transfer_data(to, amount), approve_data(to, amount),
                                     transfer_from_data(SENDER, to, amount),
                                     transfer_from_data(STRANGER, to, amount)]))
    if kind == "multicall":
        return multicall(transfer_data(draw(st.sampled_from(ADDRESSES)), 10**9))
    return draw(st.binary(max_size=100))


@st.composite
def transactions(draw: st.DrawFn) -> TransactionRequest:
    return TransactionRequest(
        chain_id=CHAIN, declared_chain_id=CHAIN, sender=SENDER,
        to=draw(st.sampled_from([*ADDRESSES, *TOKEN_ADDRESSES])),
        value=draw(st.one_of(st.just(0), st.integers(10**14, 10**16), st.integers(0, 10**19),
                             st.integers(0, 2**256 - 1))),
        data=draw(calldata()),
        gas=draw(st.one_of(st.sampled_from([21_000, 100_000, 500_000]), st.integers(0, 10**6))),
        max_fee_per_gas=draw(st.sampled_from([0, GWEI, 50 * GWEI])), tx_type=2)


def listed_call(policy: SessionPolicy, to: str, selector: str) -> bool:
    selectors = policy.contracts.get(to, frozenset())
    return to in policy.contracts and (selectors is None or selector in selectors)


@PROPERTY
@given(policy=allowlist_policies(), tx=transactions(), used=st.integers(0, 6),
       spent=st.sampled_from([0, usd("0.5"), usd("9")]))
def test_allowed_transactions_respect_allowlists_rate_limit_and_limits(
    policy: SessionPolicy, tx: TransactionRequest, used: int, spent: int,
) -> None:
    state = SessionState(revoked=False, expires_at_ms=NOW_MS + 1, spent_in_window=spent,
                         requests_last_minute=used)
    decoded = decode_transaction(tx, ASSETS)
    decision = evaluate_transaction(policy=policy, state=state, tx=tx, decoded=decoded,
                                    prices=PRICE_BOOK, now_ms=NOW_MS)
    event(str(decision.reason))
    if not decision.allowed:
        assert decision.cost == 0
        return
    assert isinstance(decoded, tuple) and tx.to is not None
    assert policy.rate_limit_per_minute is None or used < policy.rate_limit_per_minute
    selector = "0x" + tx.data[:4].hex()
    if tx.data and tx.to == ROUTER:
        assert P.SWAP in policy.permissions or (
            P.CONTRACT_CALL in policy.permissions and listed_call(policy, tx.to, selector))
    elif tx.data and tx.to not in TOKEN_ADDRESSES:
        assert P.CONTRACT_CALL in policy.permissions and listed_call(policy, tx.to, selector)
    exact = Fraction(0)
    for intent in decoded:
        assert intent.kind in (*SPENDS, IntentKind.SWAP, IntentKind.CONTRACT_CALL,
                               IntentKind.GAS)
        if intent.kind in SPENDS and policy.recipients is not None:
            assert intent.counterparty in policy.recipients
        if intent.amount:
            assert intent.asset is not None
            if intent.kind is not IntentKind.GAS:
                assert intent.asset.symbol in policy.tokens
            exact += Fraction(intent.amount, 10**intent.asset.decimals) * USD_PRICES[
                intent.asset.symbol] * 10**18
    # Everything sent (native value, tokens, allowances) and the worst-case gas is charged.
    assert Fraction(tx.value + tx.gas * tx.max_fee_per_gas, 10**18) * USD_PRICES["ETH"] * (
        10**18) <= exact
    assert exact <= decision.cost < exact + len(decoded)
    assert decision.cost <= policy.per_tx
    assert spent + decision.cost <= policy.daily
