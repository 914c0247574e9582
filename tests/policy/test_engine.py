"""The decision engine: one test per rule and reason code (POLICY.md, CONTRACT.md)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from session_studio.policy import (
    Decision,
    Permission,
    PriceBook,
    ReasonCode,
    Undecodable,
    evaluate_transaction,
    format_amount,
)

from .builders import (
    CHAIN,
    CONTRACT,
    GWEI,
    MAX_UINT256,
    NOW_MS,
    OTHER_CHAIN,
    PRICES,
    RECIPIENT,
    SENDER,
    SPENDER,
    STRANGER,
    UNPRICED,
    USDC,
    WBTC,
    approve_data,
    decide,
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

# The default request: 0.001 ETH ($3) plus 21000 gas at 1 gwei ($0.063).
DEFAULT_COST = usd("3.063")


def refused_for(decision: Decision, reason: ReasonCode) -> bool:
    return not decision.allowed and decision.reason is reason and decision.cost == 0


# -- the default request is allowed: every refusal below changes exactly one thing -------------

def test_default_native_transfer_is_allowed_at_its_cost_with_gas() -> None:
    decision = decide(make_tx())
    assert decision.allowed and decision.reason is None and decision.cost == DEFAULT_COST


# -- the session ----------------------------------------------------------------------------

def test_revoked_session_is_refused() -> None:
    assert refused_for(decide(make_tx(), state=make_state(revoked=True)),
                       ReasonCode.SESSION_REVOKED)


def test_session_is_expired_at_the_instant_of_expiry() -> None:
    assert refused_for(decide(make_tx(), state=make_state(expires_at_ms=NOW_MS)),
                       ReasonCode.SESSION_EXPIRED)


def test_session_past_expiry_is_refused() -> None:
    assert refused_for(decide(make_tx(), state=make_state(expires_at_ms=NOW_MS - 1)),
                       ReasonCode.SESSION_EXPIRED)


def test_session_one_millisecond_before_expiry_may_sign() -> None:
    assert decide(make_tx(), state=make_state(expires_at_ms=NOW_MS + 1)).allowed


# -- chains ---------------------------------------------------------------------------------

def test_declared_chain_id_differing_from_the_url_chain_is_refused() -> None:
    assert refused_for(decide(make_tx(declared_chain_id=OTHER_CHAIN)),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


def test_declared_chain_id_mismatch_is_refused_even_when_both_chains_are_in_scope() -> None:
    policy = make_policy(chain_ids=frozenset({CHAIN, OTHER_CHAIN}))
    assert refused_for(decide(make_tx(declared_chain_id=OTHER_CHAIN), policy=policy),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


def test_request_without_declared_chain_id_is_judged_on_the_url_chain() -> None:
    assert decide(make_tx(declared_chain_id=None)).allowed


def test_chain_outside_the_session_scope_is_refused() -> None:
    policy = make_policy(chain_ids=frozenset({OTHER_CHAIN}))
    assert refused_for(decide(make_tx(), policy=policy), ReasonCode.CHAIN_NOT_IN_SCOPE)


# -- always refused -------------------------------------------------------------------------

def test_eip7702_type_4_transaction_is_refused() -> None:
    assert refused_for(decide(make_tx(tx_type=4)), ReasonCode.PERMISSION_DENIED)


def test_transaction_carrying_an_authorization_list_is_refused() -> None:
    assert refused_for(decide(make_tx(has_authorization_list=True)),
                       ReasonCode.PERMISSION_DENIED)


def test_undecodable_request_is_refused_with_the_decoder_detail() -> None:
    decision = evaluate_transaction(
        policy=make_policy(), state=make_state(), tx=make_tx(),
        decoded=Undecodable(detail="odd calldata"), prices=PRICES, now_ms=NOW_MS)
    assert refused_for(decision, ReasonCode.UNDECODABLE_REQUEST)
    assert decision.detail == "odd calldata"


def test_unknown_function_on_a_token_is_refused_as_undecodable() -> None:
    tx = token_call(USDC, bytes.fromhex("40c10f19") + b"\x00" * 64)  # mint(address,uint256)
    assert refused_for(decide(tx), ReasonCode.UNDECODABLE_REQUEST)


def test_contract_creation_is_refused() -> None:
    policy = make_policy(permissions=frozenset(Permission))
    assert refused_for(decide(make_tx(to=None, value=0, data=b"\x60\x80"), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_set_approval_for_all_is_refused() -> None:
    tx = token_call(USDC, set_approval_for_all_data(SPENDER, True))
    assert refused_for(decide(tx), ReasonCode.PERMISSION_DENIED)


def test_contract_call_is_refused_as_not_allowlisted() -> None:
    policy = make_policy(permissions=frozenset(Permission))
    tx = make_tx(to=CONTRACT, value=0, data=bytes.fromhex("deadbeef"))
    assert refused_for(decide(tx, policy=policy), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_value_with_calldata_to_an_eoa_is_refused_as_a_contract_call() -> None:
    assert refused_for(decide(make_tx(data=b"\x00")), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_transfer_from_another_owner_to_the_session_is_refused() -> None:
    tx = token_call(USDC, transfer_from_data(STRANGER, SENDER, 1))
    assert refused_for(decide(tx), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_transfer_from_another_owner_to_a_third_party_is_refused() -> None:
    tx = token_call(USDC, transfer_from_data(STRANGER, RECIPIENT, 1))
    assert refused_for(decide(tx), ReasonCode.CONTRACT_NOT_ALLOWED)


# -- permissions and tokens -----------------------------------------------------------------

def test_native_transfer_without_transfer_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset({Permission.APPROVE}))
    assert refused_for(decide(make_tx(), policy=policy), ReasonCode.PERMISSION_DENIED)


def test_token_transfer_without_transfer_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset({Permission.APPROVE}))
    tx = token_call(USDC, transfer_data(RECIPIENT, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_approve_without_approve_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset({Permission.TRANSFER}))
    tx = token_call(USDC, approve_data(SPENDER, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_increase_allowance_without_approve_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset({Permission.TRANSFER}))
    tx = token_call(USDC, increase_allowance_data(SPENDER, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_value_riding_along_an_approve_needs_the_transfer_permission() -> None:
    policy = make_policy(permissions=frozenset({Permission.APPROVE}))
    tx = token_call(USDC, approve_data(SPENDER, 1), value=1)
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_unlimited_approve_is_refused_even_with_unbounded_limits() -> None:
    policy = make_policy(per_tx=2**300, daily=2**300)
    tx = token_call(USDC, approve_data(SPENDER, MAX_UINT256))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_approval_of_2_pow_255_is_refused_as_unlimited() -> None:
    policy = make_policy(per_tx=2**300, daily=2**300)
    tx = token_call(USDC, approve_data(SPENDER, 2**255))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_unlimited_increase_allowance_is_refused() -> None:
    policy = make_policy(per_tx=2**300, daily=2**300)
    tx = token_call(USDC, increase_allowance_data(SPENDER, MAX_UINT256))
    assert refused_for(decide(tx, policy=policy), ReasonCode.PERMISSION_DENIED)


def test_approval_over_the_per_tx_limit_is_refused() -> None:
    tx = token_call(USDC, approve_data(SPENDER, 11_000_000), gas=0)
    assert refused_for(decide(tx), ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_approval_within_the_limits_costs_the_allowance_granted() -> None:
    tx = token_call(USDC, approve_data(SPENDER, 5_000_000), gas=0)
    assert decide(tx).cost == usd("5")


def test_token_outside_the_session_tokens_is_refused() -> None:
    policy = make_policy(tokens=frozenset({"ETH", "DAI"}))
    tx = token_call(USDC, transfer_data(RECIPIENT, 1))
    assert refused_for(decide(tx, policy=policy), ReasonCode.TOKEN_NOT_ALLOWED)


def test_native_coin_outside_the_session_tokens_is_refused() -> None:
    policy = make_policy(tokens=frozenset({"USDC"}))
    assert refused_for(decide(make_tx(), policy=policy), ReasonCode.TOKEN_NOT_ALLOWED)


def test_value_riding_along_a_token_call_needs_the_native_coin_allowed() -> None:
    policy = make_policy(tokens=frozenset({"USDC"}))
    tx = token_call(USDC, transfer_data(RECIPIENT, 1), value=1)
    assert refused_for(decide(tx, policy=policy), ReasonCode.TOKEN_NOT_ALLOWED)


def test_gas_alone_does_not_need_the_native_coin_allowed() -> None:
    policy = make_policy(tokens=frozenset({"USDC"}))
    assert decide(token_call(USDC, transfer_data(RECIPIENT, 1)), policy=policy).allowed


# -- gas price caps -------------------------------------------------------------------------

def test_fee_above_the_session_gas_cap_is_refused() -> None:
    policy = make_policy(max_fee_per_gas=GWEI - 1)
    assert refused_for(decide(make_tx(), policy=policy), ReasonCode.GAS_PRICE_TOO_HIGH)


def test_fee_above_the_chain_gas_cap_is_refused() -> None:
    assert refused_for(decide(make_tx(), chain_max_fee_per_gas=GWEI - 1),
                       ReasonCode.GAS_PRICE_TOO_HIGH)


def test_fee_equal_to_the_gas_cap_is_allowed() -> None:
    assert decide(make_tx(), policy=make_policy(max_fee_per_gas=GWEI),
                  chain_max_fee_per_gas=GWEI).allowed


def test_chain_gas_cap_tighter_than_the_session_cap_wins() -> None:
    decision = decide(make_tx(max_fee_per_gas=6 * GWEI),
                      policy=make_policy(max_fee_per_gas=10 * GWEI),
                      chain_max_fee_per_gas=5 * GWEI)
    assert refused_for(decision, ReasonCode.GAS_PRICE_TOO_HIGH)
    assert decision.figures["cap"] == str(5 * GWEI)


def test_session_gas_cap_tighter_than_the_chain_cap_wins() -> None:
    decision = decide(make_tx(max_fee_per_gas=6 * GWEI),
                      policy=make_policy(max_fee_per_gas=5 * GWEI),
                      chain_max_fee_per_gas=10 * GWEI)
    assert refused_for(decision, ReasonCode.GAS_PRICE_TOO_HIGH)
    assert decision.figures["cap"] == str(5 * GWEI)


# -- prices ---------------------------------------------------------------------------------

def test_asset_without_price_is_refused_as_unpriceable() -> None:
    tx = token_call(UNPRICED, transfer_data(RECIPIENT, 1))
    assert refused_for(decide(tx), ReasonCode.UNPRICEABLE_ASSET)


def test_asset_with_zero_price_is_refused_as_unpriceable() -> None:
    prices = PriceBook({**PRICES.usd_per_unit, (CHAIN, "USDC"): Fraction(0)})
    tx = token_call(USDC, transfer_data(RECIPIENT, 1))
    assert refused_for(decide(tx, prices=prices), ReasonCode.UNPRICEABLE_ASSET)


def test_gas_without_a_native_price_is_refused_as_unpriceable() -> None:
    prices = PriceBook({(CHAIN, "USDC"): Fraction(1)})
    tx = token_call(USDC, transfer_data(RECIPIENT, 1))
    assert refused_for(decide(tx, prices=prices), ReasonCode.UNPRICEABLE_ASSET)


def test_token_limit_unit_without_price_is_refused_as_unpriceable() -> None:
    policy = make_policy(unit="EURC")
    assert refused_for(decide(make_tx(), policy=policy), ReasonCode.UNPRICEABLE_ASSET)


def test_token_limit_unit_values_the_request_through_usd_prices() -> None:
    # 0.001 ETH + 21000 gwei of gas = 0.001021 ETH = 3.063 USDC at $3000 / $1.
    policy = make_policy(unit="USDC", per_tx=usd("10"), daily=usd("100"))
    assert decide(make_tx(), policy=policy).cost == usd("3.063")


def test_native_limit_unit_charges_native_spend_exactly() -> None:
    policy = make_policy(unit="ETH", per_tx=usd("1"), daily=usd("1"))
    assert decide(make_tx(), policy=policy, prices=PriceBook({})).cost == usd("0.001021")


# -- limits ---------------------------------------------------------------------------------

def test_request_over_the_per_tx_limit_is_refused() -> None:
    tx = token_call(WBTC, transfer_data(RECIPIENT, 10**8), gas=0)  # $60000
    assert refused_for(decide(tx), ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_per_tx_limit_includes_worst_case_gas() -> None:
    tx = token_call(USDC, transfer_data(RECIPIENT, 10_000_000))  # exactly $10, plus gas
    assert refused_for(decide(tx), ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_request_exactly_at_the_per_tx_limit_is_allowed() -> None:
    tx = token_call(USDC, transfer_data(RECIPIENT, 10_000_000), gas=0)
    assert decide(tx).cost == usd("10")


def test_request_taking_the_window_over_the_daily_limit_is_refused() -> None:
    state = make_state(spent_in_window=usd("100") - DEFAULT_COST + 1)
    assert refused_for(decide(make_tx(), state=state), ReasonCode.DAILY_LIMIT_EXCEEDED)


def test_request_reaching_the_daily_limit_exactly_is_allowed() -> None:
    state = make_state(spent_in_window=usd("100") - DEFAULT_COST)
    assert decide(make_tx(), state=state).allowed


def test_value_riding_along_a_token_call_is_counted_as_spend() -> None:
    tx = token_call(USDC, transfer_data(RECIPIENT, 1_000_000), value=10**15, gas=0)
    assert decide(tx).cost == usd("4")  # $1 of USDC + 0.001 ETH


def test_transfer_from_the_session_itself_costs_the_amount_moved() -> None:
    tx = token_call(USDC, transfer_from_data(SENDER, RECIPIENT, 2_500_000), gas=0)
    assert decide(tx).cost == usd("2.5")


def test_zero_amount_transfer_of_an_unpriced_token_costs_nothing() -> None:
    tx = token_call(UNPRICED, transfer_data(RECIPIENT, 0), gas=0)
    assert decide(tx).cost == 0


# -- the decision ---------------------------------------------------------------------------

def test_allowed_decision_carries_its_cost_and_figures_as_decimal_strings() -> None:
    state = make_state(spent_in_window=usd("12.5"))
    decision = decide(make_tx(), state=state)
    assert decision.figures == {
        "unit": "USD", "cost": "3.063", "per_tx_limit": "10", "daily_limit": "100",
        "spent_in_window": "12.5",
    }


def test_allowed_decision_cost_matches_its_cost_figure() -> None:
    decision = decide(make_tx())
    assert decision.figures["cost"] == format_amount(decision.cost)


def test_limit_refusal_carries_the_figures_that_explain_it() -> None:
    decision = decide(make_tx(), state=make_state(spent_in_window=usd("99")))
    assert decision.figures["cost"] == "3.063" and decision.figures["spent_in_window"] == "99"


# -- order of the checks --------------------------------------------------------------------

def test_revoked_beats_over_the_limit() -> None:
    state = make_state(revoked=True, spent_in_window=usd("100"))
    assert decide(make_tx(), state=state).reason is ReasonCode.SESSION_REVOKED


def test_revoked_beats_expired() -> None:
    state = make_state(revoked=True, expires_at_ms=NOW_MS)
    assert decide(make_tx(), state=state).reason is ReasonCode.SESSION_REVOKED


def test_expired_beats_chain_mismatch() -> None:
    state = make_state(expires_at_ms=NOW_MS)
    assert decide(make_tx(declared_chain_id=OTHER_CHAIN),
                  state=state).reason is ReasonCode.SESSION_EXPIRED


def test_chain_out_of_scope_beats_undecodable() -> None:
    policy = make_policy(chain_ids=frozenset({OTHER_CHAIN}))
    tx = token_call(USDC, b"\x00\x01")
    assert decide(tx, policy=policy).reason is ReasonCode.CHAIN_NOT_IN_SCOPE


def test_permission_beats_gas_price_cap() -> None:
    policy = make_policy(permissions=frozenset({Permission.APPROVE}), max_fee_per_gas=1)
    assert decide(make_tx(), policy=policy).reason is ReasonCode.PERMISSION_DENIED


def test_gas_price_cap_beats_limits() -> None:
    state = make_state(spent_in_window=usd("100"))
    decision = decide(make_tx(), state=state, policy=make_policy(max_fee_per_gas=1))
    assert decision.reason is ReasonCode.GAS_PRICE_TOO_HIGH


def test_per_tx_limit_beats_daily_limit() -> None:
    tx = token_call(WBTC, transfer_data(RECIPIENT, 10**8))
    state = make_state(spent_in_window=usd("100"))
    assert decide(tx, state=state).reason is ReasonCode.PER_TX_LIMIT_EXCEEDED


@pytest.mark.parametrize("reason", [ReasonCode.SESSION_REVOKED, ReasonCode.SESSION_EXPIRED])
def test_unusable_session_refusal_carries_no_cost(reason: ReasonCode) -> None:
    state = (make_state(revoked=True) if reason is ReasonCode.SESSION_REVOKED
             else make_state(expires_at_ms=0))
    decision = decide(make_tx(), state=state)
    assert (decision.reason, decision.cost, dict(decision.figures)) == (reason, 0, {})
