"""eth_sendTransaction / eth_signTransaction: the parse step of the signing pipeline.

parse -> pick the session -> triage (a refusal whatever the fill never reaches the node) -> fill
the gaps from the upstream (gas, fees, pending nonce; concurrently) -> decode and price (pure)
-> a `SigningRequest` for `_pipeline.py`, which decides, reserves, picks the nonce and
signs in one ledger transaction, then broadcasts a send; what the node's answer means for the
reservation is `_outcome.py`'s.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from session_studio.policy import (
    Decision,
    PriceBook,
    ReasonCode,
    SessionState,
    TransactionRequest,
    decode_transaction,
    evaluate_transaction,
)
from session_studio.store import NonceRequest, Session

from ._context import Caller, ChainRuntime, RpcPlaneDeps, require_chain
from ._errors import InvalidParams
from ._holds import transaction_draft
from ._l1_fee import NONCE_PLACEHOLDER, quote_l1_fee
from ._nonces import NonceOracle
from ._params import TransactionParams, arity, transaction
from ._pipeline import SigningRequest, Transaction, sign_with_policy
from ._sessions import pick_session
from ._upstream import upstream_quantity

_SUPPORTED_TYPES = (0, 1, 2, 4)


async def handle_transaction(deps: RpcPlaneDeps, caller: Caller, params: list[Any], *,
                             method: str, broadcast: bool, nonces: NonceOracle) -> str:
    arity(params, 1, 1, method)
    tx = transaction(params[0])
    chain = require_chain(caller)
    session = pick_session(caller, tx.sender, deps.clock())
    if tx.tx_type is not None and tx.tx_type not in _SUPPORTED_TYPES:
        raise InvalidParams(f"invalid params: transaction type {tx.tx_type} is not supported")
    provisional = _unfilled(tx, session, chain)
    early_refusal = _refusal_whatever_the_fill(deps, session, provisional)
    if early_refusal is not None:
        request, pending = provisional, 0
    else:
        # Asked for an explicit nonce too (free once the ledger counts the account): the ledger
        # judges whether it would open a gap against max(its counter, the node's pending count).
        (request, tx), pending = await asyncio.gather(_fill(tx, session, chain),
                                                       nonces.pending(chain, session))
    if chain.l1_fee == "op-stack" and early_refusal is None:
        # I/O, so before the reserving transaction; a failed quote raises: nothing is signed.
        fields = _to_eth_account(request, tx, NONCE_PLACEHOLDER if tx.nonce is None else tx.nonce)
        request = replace(request, l1_fee_wei=await quote_l1_fee(chain.upstream, fields))
    decoded = decode_transaction(request, chain.assets)
    prices = await deps.prices.price_book(chain.chain_id)
    policy = session.policy()
    # A signed transaction handed to the client may reach the chain whenever it likes: only
    # those are bounded in number (a send is broadcast here, and settled like any other).
    held_back_bound = None if broadcast else deps.max_outstanding_signed

    def decide(state: SessionState, now_ms: int) -> Decision:
        decision = evaluate_transaction(policy=policy, state=state, tx=request, decoded=decoded,
                                        prices=prices, now_ms=now_ms,
                                        chain_max_fee_per_gas=chain.max_fee_per_gas,
                                        max_outstanding_signed=held_back_bound)
        # An unfilled request (gas 0, no nonce from the node) must never be signed.
        return early_refusal if decision.allowed and early_refusal is not None else decision

    hold = None if policy.approve_above is None else transaction_draft(
        method=method, chain_id=chain.chain_id, chain_name=chain.label, unit=policy.unit,
        intents=decoded, fields=_to_eth_account(request, tx, 0), explicit_nonce=tx.nonce,
        broadcast=broadcast, gas_wei=request.worst_case_gas_cost,
        ttl_ms=deps.approval_ttl_ms)
    return await sign_with_policy(deps, caller, SigningRequest(
        method=method, session=session, decide=decide, hold=hold,
        payload=Transaction(
            chain=chain, fields=lambda nonce: _to_eth_account(request, tx, nonce),
            nonce=NonceRequest(chain_id=chain.chain_id, address=session.address,
                               upstream_pending=pending, explicit=tx.nonce),
            gas_wei=request.worst_case_gas_cost, broadcast=broadcast)), nonces=nonces)


def _unfilled(tx: TransactionParams, session: Session, chain: ChainRuntime) -> TransactionRequest:
    """The request as the client sent it, gas and fees as given (0 when absent)."""
    tx_type = tx.tx_type if tx.tx_type is not None else (0 if tx.gas_price is not None else 2)
    return TransactionRequest(
        chain_id=chain.chain_id, declared_chain_id=tx.chain_id, sender=session.address.lower(),
        to=tx.to, value=tx.value, data=tx.data, gas=tx.gas or 0,
        max_fee_per_gas=tx.max_fee_per_gas or tx.gas_price or 0, tx_type=tx_type,
        has_authorization_list=tx.has_authorization_list)


# Refusals that depend on gas, fees or usage: these need the filled request to be decided.
_FILL_DEPENDENT = frozenset({ReasonCode.PER_TX_LIMIT_EXCEEDED, ReasonCode.DAILY_LIMIT_EXCEEDED,
                             ReasonCode.UNPRICEABLE_ASSET, ReasonCode.GAS_PRICE_TOO_HIGH,
                             ReasonCode.APPROVAL_REQUIRED})


def _refusal_whatever_the_fill(deps: RpcPlaneDeps, session: Session,
                               provisional: TransactionRequest) -> Decision | None:
    """The policy's refusal when it refuses the request before gas, fees or usage matter.

    Such a request must not reach the node at all: estimating gas for a `transferFrom` of
    someone else's allowance reverts, and the client would get the node's revert instead of the
    policy's reason. The authoritative decision is still taken (and recorded) in the reserving
    transaction; this only decides whether asking the node is worth it.
    """
    now = deps.clock()
    state = SessionState(revoked=session.revoked_at_ms is not None,
                         expires_at_ms=session.expires_at_ms, spent_in_window=0)
    decision = evaluate_transaction(
        policy=session.policy(), state=state, tx=provisional,
        decoded=decode_transaction(provisional, deps.chains[provisional.chain_id].assets),
        prices=PriceBook({}), now_ms=now)
    if decision.allowed or decision.reason in _FILL_DEPENDENT:
        return None
    return decision


async def _fill(tx: TransactionParams, session: Session,
                chain: ChainRuntime) -> tuple[TransactionRequest, TransactionParams]:
    """Fill gas and fees as web3.py does (CONVENTIONS.md): estimate, priority + 2 x base fee.

    Returns the request the policy judges and the params with the fees that will be signed.
    """
    legacy = tx.gas_price is not None or tx.tx_type in (0, 1)
    up = chain.upstream
    # Addresses as stored (EIP-55) or lower-case: a node reads either, and computing a
    # checksum is a keccak per address per send.
    estimate_req: dict[str, Any] = {"from": session.address, "value": hex(tx.value),
                                    "data": "0x" + tx.data.hex()}
    if tx.to is not None:
        estimate_req["to"] = tx.to
    gas_task = (up.call("eth_estimateGas", [estimate_req]) if tx.gas is None
                else _const(hex(tx.gas)))
    if legacy:
        price_task = (up.call("eth_gasPrice", []) if tx.gas_price is None
                      else _const(hex(tx.gas_price)))
        gas_hex, price_hex = await asyncio.gather(gas_task, price_task)
        max_fee = upstream_quantity(price_hex, "eth_gasPrice")
        tx_type = tx.tx_type if tx.tx_type is not None else 0
    else:
        need_priority = tx.max_priority_fee_per_gas is None
        need_base = tx.max_fee_per_gas is None
        # The chain's fee figures, shared by the sends of the last second (_fees.py).
        figures_task = (chain.fees.figures() if need_priority or need_base else _const(None))
        gas_hex, figures = await asyncio.gather(gas_task, figures_task)
        priority = (figures.priority if need_priority and figures is not None
                    else tx.max_priority_fee_per_gas or 0)
        if need_base and figures is not None:
            max_fee = priority + 2 * figures.base
        else:
            max_fee = tx.max_fee_per_gas or 0
            if need_priority:
                priority = min(priority, max_fee)
        if priority > max_fee:
            raise InvalidParams("invalid params: maxPriorityFeePerGas exceeds maxFeePerGas")
        tx = _with_fees(tx, max_fee=max_fee, priority=priority)
        tx_type = 2
    request = TransactionRequest(
        chain_id=chain.chain_id, declared_chain_id=tx.chain_id, sender=session.address.lower(),
        to=tx.to, value=tx.value, data=tx.data, gas=upstream_quantity(gas_hex, "eth_estimateGas"),
        max_fee_per_gas=max_fee, tx_type=tx_type,
        has_authorization_list=tx.has_authorization_list)
    return request, tx


async def _const(value: Any) -> Any:
    return value


def _with_fees(tx: TransactionParams, *, max_fee: int, priority: int) -> TransactionParams:
    return replace(tx, max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority)


def _to_eth_account(request: TransactionRequest, tx: TransactionParams,
                    nonce: int) -> dict[str, Any]:
    """The exact transaction that is signed: always for the URL's chain (EIP-155)."""
    fields: dict[str, Any] = {
        "chainId": request.chain_id,
        "nonce": nonce,
        "gas": request.gas,
        "value": request.value,
        "data": "0x" + request.data.hex(),
    }
    if request.to is not None:
        # 20 raw bytes, not an EIP-55 string: the keystore would only re-verify the checksum
        # this module computed (two keccaks, ~35 us on the signing path).
        fields["to"] = bytes.fromhex(request.to[2:])
    if request.tx_type == 2:
        fields["type"] = 2
        fields["maxFeePerGas"] = request.max_fee_per_gas
        fields["maxPriorityFeePerGas"] = tx.max_priority_fee_per_gas or 0
    else:
        fields["gasPrice"] = request.max_fee_per_gas
        if request.tx_type == 1:
            fields["type"] = 1
    if tx.access_list is not None:
        fields["accessList"] = tx.access_list
        if request.tx_type == 0:
            fields["type"] = 1
    return fields
