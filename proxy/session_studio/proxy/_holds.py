"""What a request would be held as: the approval draft a signing method hands the ledger.

A request over its session's `approve_above` waits for a person (issue 14). The person must
see exactly what it does, and approving must sign exactly that, possibly in another process
(the CLI on the host) hours later. So the draft carries two things, both JSON:
- `payload`: the request as it will be signed (the transaction's fields without the nonce,
  which is picked when it is signed; the message bytes; the typed data), and nothing else:
  `_approvals.py` rebuilds the signing payload from it alone.
- `summary` and `detail`: the decoded request in words and figures for the inbox, made from
  the same decoded intents the policy judged ("transfer 120 USDC to 0xabc... on base").

Pure functions; a draft is built only for sessions that have an `approve_above`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from session_studio.policy import DecodedTypedData, Intent, IntentKind, Undecodable
from session_studio.store import ApprovalDraft, new_id

_VERBS: Mapping[IntentKind, str] = {
    IntentKind.NATIVE_TRANSFER: "transfer",
    IntentKind.TOKEN_TRANSFER: "transfer",
    IntentKind.TOKEN_APPROVAL: "approve",
    IntentKind.SWAP: "swap through",
    IntentKind.CONTRACT_CALL: "call",
}
_MAX_MESSAGE_SHOWN = 2000  # characters of a message or typed-data field shown in the inbox


def units(amount: int, decimals: int) -> str:
    """Base units as a plain decimal in whole tokens: 120000000, 6 -> "120"."""
    return format(Decimal(amount).scaleb(-decimals).normalize(), "f")


def describe_intent(intent: Intent) -> str:
    """One intent in words, e.g. "transfer 120 USDC to 0xabc..." or "approve 50 USDC for
    spender 0xdef..."."""
    asset = intent.asset
    amount = "" if asset is None else f"{units(intent.amount, asset.decimals)} {asset.symbol}"
    party = intent.counterparty or "a new contract"
    if intent.kind is IntentKind.TOKEN_APPROVAL:
        return f"approve {amount} for spender {party}"
    if intent.kind in (IntentKind.SWAP, IntentKind.CONTRACT_CALL):
        call = f"{_VERBS[intent.kind]} {party}"
        if intent.selector:
            call += f" (selector {intent.selector})"
        return call + (f" sending {amount}" if asset is not None and intent.amount else "")
    verb = _VERBS.get(intent.kind, intent.kind.value.replace("_", " "))
    return f"{verb} {amount} to {party}".strip()


def intent_json(intent: Intent) -> dict[str, Any]:
    asset = intent.asset
    return {"kind": intent.kind.value, "asset": None if asset is None else asset.symbol,
            "amount": None if asset is None else units(intent.amount, asset.decimals),
            "counterparty": intent.counterparty, "selector": intent.selector}


def _summary(intents: Sequence[Intent], chain_name: str, fallback: str) -> str:
    words = [describe_intent(i) for i in intents if i.kind is not IntentKind.GAS]
    return f"{'; '.join(words) or fallback} on {chain_name}"


def transaction_draft(*, method: str, chain_id: int, chain_name: str, unit: str,
                      intents: Sequence[Intent] | Undecodable, fields: Mapping[str, Any],
                      explicit_nonce: int | None, broadcast: bool, gas_wei: int,
                      ttl_ms: int) -> ApprovalDraft:
    """A transaction waits with its exact fields (no nonce: it is picked when signed)."""
    decoded = [] if isinstance(intents, Undecodable) else list(intents)
    plain = {k: v for k, v in fields.items() if k != "nonce"}
    if isinstance(plain.get("to"), bytes):
        plain["to"] = "0x" + plain["to"].hex()
    gas = next((i for i in decoded if i.kind is IntentKind.GAS), None)
    detail = {
        "chain_id": chain_id, "chain": chain_name, "to": plain.get("to"),
        "value_wei": str(plain.get("value", 0)), "data": plain.get("data", "0x")[:2 + 2 * 68],
        "gas_limit": plain.get("gas"),
        "max_fee_per_gas": plain.get("maxFeePerGas", plain.get("gasPrice")),
        "worst_case_gas": None if gas is None or gas.asset is None
        else f"{units(gas.amount, gas.asset.decimals)} {gas.asset.symbol}",
        "intents": [intent_json(i) for i in decoded if i.kind is not IntentKind.GAS],
        "broadcast": broadcast,
    }
    fallback = "sign a transaction" if not broadcast else "send a transaction"
    return ApprovalDraft(
        id=new_id(), chain_id=chain_id, unit=unit, ttl_ms=ttl_ms,
        summary=_summary(decoded, chain_name, fallback), detail=detail,
        payload={"kind": "transaction", "method": method, "fields": plain,
                 "explicit_nonce": explicit_nonce, "broadcast": broadcast,
                 "gas_wei": str(gas_wei)})


def typed_data_draft(*, chain_id: int, chain_name: str, unit: str, typed: Mapping[str, Any],
                     decoded: DecodedTypedData, ttl_ms: int) -> ApprovalDraft:
    """A permit (the only typed data that costs anything, so the only kind ever held)."""
    intents = [] if isinstance(decoded, Undecodable) else list(decoded.intents)
    primary = "" if isinstance(decoded, Undecodable) else decoded.primary_type
    message = typed.get("message")
    shown = str(message)[:_MAX_MESSAGE_SHOWN]
    detail = {"chain_id": chain_id, "chain": chain_name, "primary_type": primary,
              "domain": typed.get("domain"), "message": shown,
              "intents": [intent_json(i) for i in intents]}
    return ApprovalDraft(
        id=new_id(), chain_id=chain_id, unit=unit, ttl_ms=ttl_ms,
        summary=f"sign {primary}: " + _summary(intents, chain_name, "typed data"),
        detail=detail, payload={"kind": "typed_data", "typed_data": dict(typed)})
