"""Typed data (EIP-712): strict structure, permits valued as approvals, opaque data allowlisted.

Payloads are built the way ethers v6 sends them (see `builders.typed_data`); a few tests use
viem's shape (checksummed addresses, JSON numbers) or a dapp's (no EIP712Domain in types).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address
from session_studio.policy import (
    Decision,
    Intent,
    IntentKind,
    Permission,
    ReasonCode,
    TypedDataIntents,
    Undecodable,
    decode_typed_data,
    evaluate_typed_data,
)

from .builders import (
    ASSETS,
    CHAIN,
    CONTRACT,
    DAI,
    MAX_UINT256,
    NOW_MS,
    OTHER_CHAIN,
    PERMIT2,
    PRICES,
    RECIPIENT,
    SENDER,
    SPENDER,
    STRANGER,
    UNPRICED,
    USDC,
    USDC_ADDRESS,
    dai_permit,
    decide_typed,
    eip2612_permit,
    mail,
    make_policy,
    make_state,
    permit_single,
    typed_data,
    usd,
)

P = Permission
APPROVER = make_policy(permissions=frozenset({P.APPROVE}))
TYPED_SIGNER = make_policy(permissions=frozenset({P.SIGN_TYPED_DATA}),
                           contracts={CONTRACT: None})


def refused_for(decision: Decision, reason: ReasonCode) -> bool:
    return not decision.allowed and decision.reason is reason and decision.cost == 0


def decoded(typed: dict[str, Any], sender: str = SENDER) -> TypedDataIntents:
    result = decode_typed_data(typed, ASSETS, sender=sender)
    assert isinstance(result, TypedDataIntents), result
    return result


def undecodable(typed: object) -> bool:
    return isinstance(decode_typed_data(typed, ASSETS, sender=SENDER),  # type: ignore[arg-type]
                      Undecodable)


def with_changes(typed: dict[str, Any], change: Any) -> dict[str, Any]:
    """A deep copy of `typed` after `change(copy)`."""
    changed = copy.deepcopy(typed)
    change(changed)
    return changed


# -- EIP-2612 permits -----------------------------------------------------------------------

def test_eip2612_permit_is_an_approval_of_the_spender() -> None:
    assert decoded(eip2612_permit()) == TypedDataIntents(
        domain_chain_id=CHAIN, verifying_contract=USDC_ADDRESS, primary_type="Permit",
        intents=(Intent(kind=IntentKind.TOKEN_APPROVAL, asset=USDC, amount=5_000_000,
                        counterparty=SPENDER),),
        opaque=False)


def test_eip2612_permit_within_the_limits_costs_its_value_without_gas() -> None:
    decision = decide_typed(eip2612_permit(value=5_000_000))
    assert (decision.allowed, decision.cost, decision.gas_cost) == (True, usd("5"), 0)


def test_eip2612_permit_needs_only_the_approve_permission() -> None:
    assert decide_typed(eip2612_permit(), policy=APPROVER).allowed


def test_eip2612_permit_without_the_approve_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset({P.TRANSFER, P.SIGN_TYPED_DATA}),
                         contracts={USDC_ADDRESS: None})
    assert refused_for(decide_typed(eip2612_permit(), policy=policy), ReasonCode.PERMISSION_DENIED)


def test_unlimited_eip2612_permit_is_refused_even_with_unbounded_limits() -> None:
    policy = make_policy(per_tx=2**300, daily=2**300)
    assert refused_for(decide_typed(eip2612_permit(value=MAX_UINT256), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_eip2612_permit_of_2_pow_255_is_refused_as_unlimited() -> None:
    policy = make_policy(per_tx=2**300, daily=2**300)
    assert refused_for(decide_typed(eip2612_permit(value=2**255), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_eip2612_permit_over_the_per_tx_limit_is_refused() -> None:
    assert refused_for(decide_typed(eip2612_permit(value=10_000_001)),
                       ReasonCode.PER_TX_LIMIT_EXCEEDED)


def test_eip2612_permit_exactly_at_the_per_tx_limit_is_allowed() -> None:
    assert decide_typed(eip2612_permit(value=10_000_000)).cost == usd("10")


def test_eip2612_permit_taking_the_window_over_the_daily_limit_is_refused() -> None:
    state = make_state(spent_in_window=usd("95") + 1)
    assert refused_for(decide_typed(eip2612_permit(value=5_000_000), state=state),
                       ReasonCode.DAILY_LIMIT_EXCEEDED)


def test_eip2612_permit_for_another_owner_is_refused() -> None:
    decision = decide_typed(eip2612_permit(owner=STRANGER))
    assert refused_for(decision, ReasonCode.PERMISSION_DENIED)


def test_eip2612_permit_for_another_owner_is_decoded_as_foreign_funds() -> None:
    intent = decoded(eip2612_permit(owner=STRANGER)).intents[0]
    assert intent.kind is IntentKind.FOREIGN_FUNDS


def test_eip2612_permit_owner_in_checksum_case_is_the_session() -> None:
    assert decide_typed(eip2612_permit(owner=to_checksum_address(SENDER))).allowed


def test_eip2612_permit_compares_the_owner_with_a_checksum_cased_sender() -> None:
    typed = eip2612_permit()
    assert decoded(typed, sender=to_checksum_address(SENDER)).intents[0].kind is (
        IntentKind.TOKEN_APPROVAL)


def test_permit_of_a_token_outside_the_session_tokens_is_refused() -> None:
    policy = make_policy(tokens=frozenset({"ETH", "DAI"}))
    assert refused_for(decide_typed(eip2612_permit(), policy=policy),
                       ReasonCode.TOKEN_NOT_ALLOWED)


def test_permit_of_an_unpriced_token_is_refused_as_unpriceable() -> None:
    assert refused_for(decide_typed(eip2612_permit(token=UNPRICED, value=1)),
                       ReasonCode.UNPRICEABLE_ASSET)


def test_permit_at_an_unknown_token_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(),
                         lambda t: t["domain"].update(verifyingContract=STRANGER))
    assert refused_for(decide_typed(typed), ReasonCode.UNDECODABLE_REQUEST)


def test_permit_at_permit2_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(),
                         lambda t: t["domain"].update(verifyingContract=PERMIT2))
    assert undecodable(typed)


def test_permit_without_a_verifying_contract_is_undecodable() -> None:
    def drop(t: dict[str, Any]) -> None:
        del t["domain"]["verifyingContract"]
        t["types"]["EIP712Domain"].pop()
    assert undecodable(with_changes(eip2612_permit(), drop))


def test_permit_of_unexpected_shape_is_undecodable_not_opaque() -> None:
    # EIP-4494's NFT permit, at a contract the session may sign opaque typed data for.
    nft_permit = typed_data(
        "Permit", {"Permit": [("spender", "address"), ("tokenId", "uint256"),
                              ("nonce", "uint256"), ("deadline", "uint256")]},
        {"spender": SPENDER, "tokenId": "1", "nonce": "0", "deadline": "1"},
        name="NFT", version="1", chainId=CHAIN, verifyingContract=CONTRACT)
    assert refused_for(decide_typed(nft_permit, policy=TYPED_SIGNER),
                       ReasonCode.UNDECODABLE_REQUEST)


def test_permit_with_its_fields_in_another_order_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["types"]["Permit"].reverse())
    assert undecodable(typed)


def test_permit_with_an_extra_field_is_undecodable() -> None:
    def extra(t: dict[str, Any]) -> None:
        t["types"]["Permit"].append({"name": "memo", "type": "string"})
        t["message"]["memo"] = "hi"
    assert undecodable(with_changes(eip2612_permit(), extra))


def test_permit_with_a_retyped_field_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(),
                         lambda t: t["types"]["Permit"][2].update(type="uint128"))
    assert undecodable(typed)


def test_permit_spender_outside_the_recipients_is_refused() -> None:
    policy = make_policy(recipients=frozenset({RECIPIENT}))
    assert refused_for(decide_typed(eip2612_permit(), policy=policy),
                       ReasonCode.RECIPIENT_NOT_ALLOWED)


def test_permit_spender_among_the_recipients_is_allowed() -> None:
    policy = make_policy(recipients=frozenset({SPENDER}))
    assert decide_typed(eip2612_permit(), policy=policy).allowed


# -- DAI permits ----------------------------------------------------------------------------

def test_dai_permit_allowing_is_decoded_as_an_unlimited_approval() -> None:
    intent = decoded(dai_permit(allowed=True)).intents[0]
    assert (intent.kind, intent.asset, intent.amount, intent.unlimited) == (
        IntentKind.TOKEN_APPROVAL, DAI, MAX_UINT256, True)


def test_dai_permit_allowing_is_refused_as_unlimited() -> None:
    policy = make_policy(per_tx=2**300, daily=2**300)
    assert refused_for(decide_typed(dai_permit(allowed=True), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_dai_permit_revoking_is_allowed_at_no_cost() -> None:
    decision = decide_typed(dai_permit(allowed=False), policy=APPROVER)
    assert (decision.allowed, decision.cost) == (True, 0)


def test_dai_permit_revoking_needs_the_approve_permission() -> None:
    policy = make_policy(permissions=frozenset({P.TRANSFER, P.SIGN_TYPED_DATA}))
    assert refused_for(decide_typed(dai_permit(allowed=False), policy=policy),
                       ReasonCode.PERMISSION_DENIED)


def test_dai_permit_by_another_holder_is_refused() -> None:
    assert refused_for(decide_typed(dai_permit(allowed=False, holder=STRANGER)),
                       ReasonCode.PERMISSION_DENIED)


def test_dai_permit_with_allowed_as_a_string_is_undecodable() -> None:
    # eth-account would read "false" as false but "no" as true: only JSON booleans are taken.
    for text in ("false", "no", "0"):
        typed = with_changes(dai_permit(allowed=False),
                             lambda t, text=text: t["message"].update(allowed=text))
        assert undecodable(typed), text


# -- chains ---------------------------------------------------------------------------------

def test_domain_chain_id_differing_from_the_url_chain_is_refused() -> None:
    assert refused_for(decide_typed(eip2612_permit(chain_id=OTHER_CHAIN)),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


def test_domain_chain_id_mismatch_is_refused_even_when_both_chains_are_in_scope() -> None:
    policy = make_policy(chain_ids=frozenset({CHAIN, OTHER_CHAIN}))
    assert refused_for(decide_typed(eip2612_permit(chain_id=OTHER_CHAIN), policy=policy),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


def test_url_chain_outside_the_session_scope_is_refused() -> None:
    policy = make_policy(chain_ids=frozenset({OTHER_CHAIN}))
    assert refused_for(decide_typed(eip2612_permit(), policy=policy),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


def test_permit_without_a_domain_chain_id_is_refused() -> None:
    def drop(t: dict[str, Any]) -> None:
        del t["domain"]["chainId"]
        t["types"]["EIP712Domain"] = [f for f in t["types"]["EIP712Domain"]
                                      if f["name"] != "chainId"]
    assert refused_for(decide_typed(with_changes(eip2612_permit(), drop)),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


def test_opaque_message_without_a_domain_chain_id_is_refused() -> None:
    assert refused_for(decide_typed(mail(chain_id=None), policy=TYPED_SIGNER),
                       ReasonCode.CHAIN_NOT_IN_SCOPE)


@pytest.mark.parametrize("chain_id", [CHAIN, str(CHAIN), hex(CHAIN)],
                         ids=["number", "decimal-string", "hex-string"])
def test_domain_chain_id_is_read_as_a_number_or_a_string(chain_id: Any) -> None:
    assert decoded(eip2612_permit(chain_id=chain_id)).domain_chain_id == CHAIN


def test_domain_chain_id_as_a_boolean_is_undecodable() -> None:
    assert undecodable(eip2612_permit(chain_id=True))


# -- opaque typed data ----------------------------------------------------------------------

def test_message_that_is_no_spend_type_is_opaque_with_no_intents() -> None:
    assert decoded(mail()) == TypedDataIntents(
        domain_chain_id=CHAIN, verifying_contract=CONTRACT, primary_type="Mail", intents=(),
        opaque=True)


def test_opaque_message_for_an_allowlisted_contract_is_allowed_at_no_cost() -> None:
    decision = decide_typed(mail(), policy=TYPED_SIGNER)
    assert (decision.allowed, decision.cost) == (True, 0)


def test_opaque_message_for_a_contract_not_allowlisted_is_refused() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={STRANGER: None})
    assert refused_for(decide_typed(mail(), policy=policy), ReasonCode.CONTRACT_NOT_ALLOWED)


def test_opaque_message_without_a_verifying_contract_is_refused() -> None:
    assert refused_for(decide_typed(mail(verifying_contract=None), policy=TYPED_SIGNER),
                       ReasonCode.CONTRACT_NOT_ALLOWED)


def test_opaque_message_without_the_sign_typed_data_permission_is_refused() -> None:
    policy = make_policy(permissions=frozenset(set(P) - {P.SIGN_TYPED_DATA}),
                         contracts={CONTRACT: None})
    assert refused_for(decide_typed(mail(), policy=policy), ReasonCode.PERMISSION_DENIED)


def test_opaque_message_allowlist_ignores_the_listed_selectors() -> None:
    policy = make_policy(permissions=frozenset({P.SIGN_TYPED_DATA}),
                         contracts={CONTRACT: frozenset({"0x12345678"})})
    assert decide_typed(mail(), policy=policy).allowed


def test_opaque_message_allowlist_ignores_the_case_of_the_verifying_contract() -> None:
    assert decide_typed(mail(verifying_contract=to_checksum_address(CONTRACT)),
                        policy=TYPED_SIGNER).allowed


def test_unrecognised_message_for_a_token_is_undecodable() -> None:
    policy = make_policy(permissions=frozenset(P), contracts={USDC_ADDRESS: None})
    assert refused_for(decide_typed(mail(verifying_contract=USDC_ADDRESS), policy=policy),
                       ReasonCode.UNDECODABLE_REQUEST)


def test_unrecognised_message_for_permit2_is_undecodable() -> None:
    assert undecodable(mail(verifying_contract=PERMIT2))


# -- the session ----------------------------------------------------------------------------

def test_typed_data_for_a_revoked_session_is_refused() -> None:
    assert refused_for(decide_typed(eip2612_permit(), state=make_state(revoked=True)),
                       ReasonCode.SESSION_REVOKED)


def test_typed_data_at_the_instant_of_expiry_is_refused() -> None:
    assert refused_for(decide_typed(eip2612_permit(), state=make_state(expires_at_ms=NOW_MS)),
                       ReasonCode.SESSION_EXPIRED)


def test_typed_data_over_the_rate_limit_is_refused() -> None:
    policy = make_policy(rate_limit_per_minute=3)
    assert refused_for(decide_typed(eip2612_permit(), policy=policy,
                                    state=make_state(requests_last_minute=3)),
                       ReasonCode.RATE_LIMITED)


def test_undecodable_typed_data_is_refused_with_the_decoder_detail() -> None:
    decision = evaluate_typed_data(
        policy=make_policy(), state=make_state(), chain_id=CHAIN,
        decoded=Undecodable(detail="odd typed data"), prices=PRICES, now_ms=NOW_MS)
    assert refused_for(decision, ReasonCode.UNDECODABLE_REQUEST)
    assert decision.detail == "odd typed data"


def test_chain_out_of_scope_beats_undecodable_typed_data() -> None:
    policy = make_policy(chain_ids=frozenset({OTHER_CHAIN}))
    assert decide_typed({"types": {}}, policy=policy).reason is ReasonCode.CHAIN_NOT_IN_SCOPE


def test_spend_type_with_no_intents_is_refused_as_undecodable() -> None:
    empty = TypedDataIntents(domain_chain_id=CHAIN, verifying_contract=PERMIT2,
                             primary_type="PermitBatch", intents=(), opaque=False)
    decision = evaluate_typed_data(policy=make_policy(), state=make_state(), chain_id=CHAIN,
                                   decoded=empty, prices=PRICES, now_ms=NOW_MS)
    assert refused_for(decision, ReasonCode.UNDECODABLE_REQUEST)


# -- the shape of the payload ---------------------------------------------------------------

def test_payload_as_viem_sends_it_is_decoded() -> None:
    # viem: checksummed addresses, bigint-derived decimal strings, JSON numbers elsewhere.
    def viem(t: dict[str, Any]) -> None:
        t["domain"]["verifyingContract"] = to_checksum_address(USDC_ADDRESS)
        t["message"].update(owner=to_checksum_address(SENDER),
                            spender=to_checksum_address(SPENDER), nonce=0)
    assert decoded(with_changes(eip2612_permit(), viem)).intents[0].amount == 5_000_000


def test_payload_without_eip712domain_in_types_is_decoded() -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["types"].pop("EIP712Domain"))
    assert decoded(typed).intents[0].amount == 5_000_000


@pytest.mark.parametrize("value", [5_000_000, "5000000", "0x4c4b40", "0x004C4B40", "0005000000"],
                         ids=["number", "decimal", "hex", "padded-upper-hex", "leading-zeros"])
def test_numbers_are_read_from_ints_and_decimal_or_hex_strings(value: Any) -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["message"].update(value=value))
    assert decoded(typed).intents[0].amount == 5_000_000


@pytest.mark.parametrize("value", [
    5e6, True, None, [], "5e6", " 5000000", "5000000 ", "5_000_000", "+5", "-1", "0X4c4b40",
    "0x", "", "0x4c4b4g", "1" * 81, 2**256, -1, "\u0665",
], ids=repr)
def test_malformed_numbers_are_undecodable(value: Any) -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["message"].update(value=value))
    assert undecodable(typed)


def test_uint48_out_of_range_is_undecodable() -> None:
    typed = with_changes(permit_single(),
                         lambda t: t["message"]["details"].update(expiration=str(2**48)))
    assert undecodable(typed)


@pytest.mark.parametrize("address", [
    SPENDER[2:], SPENDER[:-2], SPENDER + "00", "0x" + "g" * 40, 12345, None,
    "0xC3c3C3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3",
], ids=["no-0x", "short", "long", "not-hex", "number", "null", "bad-checksum"])
def test_malformed_addresses_are_undecodable(address: Any) -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["message"].update(spender=address))
    assert undecodable(typed)


def test_upper_case_address_is_read_lower_case() -> None:
    typed = with_changes(eip2612_permit(),
                         lambda t: t["message"].update(spender="0x" + SPENDER[2:].upper()))
    assert decoded(typed).intents[0].counterparty == SPENDER


@pytest.mark.parametrize("key", ["types", "primaryType", "domain", "message"])
def test_payload_missing_a_top_level_key_is_undecodable(key: str) -> None:
    assert undecodable(with_changes(eip2612_permit(), lambda t: t.pop(key)))


def test_payload_with_an_unknown_top_level_key_is_undecodable() -> None:
    assert undecodable(with_changes(eip2612_permit(), lambda t: t.update(extra=1)))


@pytest.mark.parametrize("payload", [[], "{}", None, 7], ids=repr)
def test_payload_that_is_not_an_object_is_undecodable(payload: object) -> None:
    assert undecodable(payload)


def test_message_missing_a_field_is_undecodable() -> None:
    assert undecodable(with_changes(eip2612_permit(), lambda t: t["message"].pop("nonce")))


def test_message_with_an_extra_field_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["message"].update(value2="1"))
    assert undecodable(typed)


def test_primary_type_that_is_not_defined_is_undecodable() -> None:
    assert undecodable(with_changes(mail(), lambda t: t.update(primaryType="Letter")))


def test_primary_type_that_is_not_the_root_is_undecodable() -> None:
    # eth-account signs the one root (Mail), whatever primaryType claims.
    typed = with_changes(mail(), lambda t: t.update(primaryType="Person"))
    assert undecodable(typed)


def test_primary_type_inside_a_cycle_of_types_is_undecodable() -> None:
    # Every type is reachable, but none is the root: eth-account cannot tell what to sign.
    cycle = typed_data("A", {"A": [("b", "B")], "B": [("a", "A[]")]}, {"b": {"a": []}},
                       chainId=CHAIN, verifyingContract=CONTRACT)
    assert undecodable(cycle)


def test_primary_type_eip712domain_is_undecodable() -> None:
    assert undecodable(with_changes(mail(), lambda t: t.update(primaryType="EIP712Domain")))


def test_unused_extra_type_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(), lambda t: t["types"].update(
        Extra=[{"name": "x", "type": "uint256"}]))
    assert undecodable(typed)


def test_reference_to_an_undefined_type_is_undecodable() -> None:
    typed = with_changes(mail(), lambda t: t["types"]["Mail"].append(
        {"name": "cc", "type": "Group"}))
    assert undecodable(typed)


def test_struct_named_like_an_atomic_type_is_undecodable() -> None:
    def shadow(t: dict[str, Any]) -> None:
        t["types"]["address"] = [{"name": "x", "type": "uint256"}]
        t["types"]["Mail"].append({"name": "x", "type": "address"})
        t["message"]["x"] = {"x": "1"}
    assert undecodable(with_changes(mail(), shadow))


@pytest.mark.parametrize("type_", ["uint7", "uint264", "bytes33", "bytes0", "uint", "int",
                                   "Person[0]", "Person[01]", "Person[", "address]", ""])
def test_invalid_field_types_are_undecodable(type_: str) -> None:
    typed = with_changes(mail(), lambda t: t["types"]["Mail"][0].update(type=type_))
    assert undecodable(typed)


def test_type_string_longer_than_256_characters_is_undecodable() -> None:
    # A bound on names keeps parsing linear: "Person" + "[]" * 100000 is refused at once.
    typed = with_changes(mail(), lambda t: t["types"]["Mail"][0].update(
        type="Person" + "[]" * 126))
    assert undecodable(typed)


@pytest.mark.parametrize("name", ["", "1st", "from to", "a,b", "a(b)", 7, "n" * 257])
def test_invalid_field_names_are_undecodable(name: Any) -> None:
    typed = with_changes(mail(), lambda t: t["types"]["Mail"][2].update(name=name))
    assert undecodable(typed)


def test_field_with_an_extra_key_is_undecodable() -> None:
    typed = with_changes(mail(), lambda t: t["types"]["Mail"][2].update(internal="x"))
    assert undecodable(typed)


def test_duplicate_field_names_are_undecodable() -> None:
    typed = with_changes(mail(), lambda t: t["types"]["Mail"].append(
        {"name": "contents", "type": "string"}))
    assert undecodable(typed)


def test_eip712domain_declaring_a_field_the_domain_lacks_is_undecodable() -> None:
    typed = with_changes(mail(), lambda t: t["types"]["EIP712Domain"].append(
        {"name": "salt", "type": "bytes32"}))
    assert undecodable(typed)


def test_domain_field_missing_from_eip712domain_is_undecodable() -> None:
    # The signer would hash chainId anyway; a payload that says otherwise is inconsistent.
    typed = with_changes(eip2612_permit(), lambda t: t["types"]["EIP712Domain"].pop(2))
    assert undecodable(typed)


def test_eip712domain_with_a_non_standard_field_type_is_undecodable() -> None:
    typed = with_changes(eip2612_permit(),
                         lambda t: t["types"]["EIP712Domain"][2].update(type="uint64"))
    assert undecodable(typed)


def test_unknown_domain_field_is_undecodable() -> None:
    typed = with_changes(mail(), lambda t: t["domain"].update(chain="base"))
    assert undecodable(typed)


def test_domain_salt_of_32_bytes_is_accepted() -> None:
    def salt(t: dict[str, Any]) -> None:
        t["domain"]["salt"] = "0x" + "ab" * 32
        t["types"]["EIP712Domain"].append({"name": "salt", "type": "bytes32"})
    assert decoded(with_changes(mail(), salt)).opaque


@pytest.mark.parametrize("value", ["0x" + "ab" * 31, "0x" + "ab" * 33, "0xabc", "salt", 7])
def test_domain_salt_that_is_not_32_bytes_of_hex_is_undecodable(value: Any) -> None:
    def salt(t: dict[str, Any]) -> None:
        t["domain"]["salt"] = value
        t["types"]["EIP712Domain"].append({"name": "salt", "type": "bytes32"})
    assert undecodable(with_changes(mail(), salt))


def test_fixed_array_of_the_wrong_length_is_undecodable() -> None:
    def pair(t: dict[str, Any]) -> None:
        t["types"]["Mail"][1]["type"] = "Person[2]"
        t["message"]["to"] = [t["message"]["to"]] * 3
    assert undecodable(with_changes(mail(), pair))


def test_fixed_array_of_the_right_length_is_accepted() -> None:
    def pair(t: dict[str, Any]) -> None:
        t["types"]["Mail"][1]["type"] = "Person[2]"
        t["message"]["to"] = [t["message"]["to"]] * 2
    assert decoded(with_changes(mail(), pair)).opaque


def test_string_field_given_a_number_is_undecodable() -> None:
    assert undecodable(with_changes(mail(), lambda t: t["message"].update(contents=5)))


def test_nesting_deeper_than_the_limit_is_undecodable() -> None:
    node: dict[str, Any] = {"next": []}
    for _ in range(40):
        node = {"next": [node]}
    deep = typed_data("Node", {"Node": [("next", "Node[]")]}, node, chainId=CHAIN,
                      verifyingContract=CONTRACT)
    assert undecodable(deep)


def test_recursive_type_of_modest_depth_is_accepted() -> None:
    node: dict[str, Any] = {"next": []}
    for _ in range(5):
        node = {"next": [node]}
    nested = typed_data("Node", {"Node": [("next", "Node[]")]}, node, chainId=CHAIN,
                        verifyingContract=CONTRACT)
    assert decoded(nested).opaque


def test_decoding_leaves_the_payload_unchanged() -> None:
    typed = eip2612_permit()
    before = copy.deepcopy(typed)
    decode_typed_data(typed, ASSETS, sender=SENDER)
    assert typed == before


@pytest.mark.parametrize("typed", [
    eip2612_permit(), dai_permit(allowed=False), permit_single(), mail(),
], ids=["eip2612", "dai", "permit-single", "mail"])
def test_accepted_payloads_are_signable_by_eth_account(typed: dict[str, Any]) -> None:
    assert not isinstance(decode_typed_data(typed, ASSETS, sender=SENDER), Undecodable)
    encode_typed_data(full_message=typed)



def test_typed_data_intents_other_than_approvals_are_refused() -> None:
    call = Intent(kind=IntentKind.CONTRACT_CALL, asset=None, amount=0, counterparty=CONTRACT,
                  selector="0x12345678")
    forged = TypedDataIntents(domain_chain_id=CHAIN, verifying_contract=CONTRACT,
                              primary_type="Permit", intents=(call,), opaque=False)
    decision = evaluate_typed_data(
        policy=make_policy(permissions=frozenset(P), contracts={CONTRACT: None}),
        state=make_state(), chain_id=CHAIN, decoded=forged, prices=PRICES, now_ms=NOW_MS)
    assert refused_for(decision, ReasonCode.UNDECODABLE_REQUEST)
