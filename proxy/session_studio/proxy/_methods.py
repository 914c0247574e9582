"""The method table of the RPC plane: what is answered locally, signed, passed through, refused.

Default deny: a method is served only if it is named here. Reads go to the upstream unchanged;
signing methods go through the policy; `eth_sign` and raw transactions are refused by design.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from session_studio.keystore import (
    EncodedTypedData,
    KeystoreError,
    LocalKeystore,
    SigningRefusedError,
)
from session_studio.policy import (
    Decision,
    SessionState,
    TypedDataTooLarge,
    Undecodable,
    decode_typed_data,
    evaluate_message,
    evaluate_typed_data,
    format_amount,
)
from session_studio.store import NotFound

from session_studio.basics import JsonRejected, iso, parse_json

from ._context import Caller, RpcPlaneDeps, require_chain
from ._envelope import MAX_NESTING, Call
from ._errors import (
    InvalidParams,
    MethodNotFound,
    UnsupportedMethod,
)
from ._holds import typed_data_draft
from ._nonces import NonceOracle
from ._params import arity, hex_bytes
from ._pipeline import Message, SigningRequest, TypedData, sign_with_policy
from ._self_service import STUDIO_METHODS, studio_call
from ._sessions import active_addresses, session_for_address
from ._transactions import handle_transaction
from ._upstream import Upstream

# Passed through to the chain's upstream as they are. Nothing here can sign or change state
# except eth_sendRawTransaction, which is listed separately behind a config switch.
READ_METHODS = frozenset({
    "eth_blockNumber", "eth_call", "eth_estimateGas", "eth_feeHistory", "eth_gasPrice",
    "eth_getBalance", "eth_getBlockByHash", "eth_getBlockByNumber",
    "eth_getBlockTransactionCountByHash", "eth_getBlockTransactionCountByNumber",
    "eth_getCode", "eth_getLogs", "eth_getProof", "eth_getStorageAt",
    "eth_getTransactionByBlockHashAndIndex", "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByHash", "eth_getTransactionCount", "eth_getTransactionReceipt",
    "eth_getBlockReceipts", "eth_maxPriorityFeePerGas", "eth_blobBaseFee", "eth_syncing",
    "eth_createAccessList", "eth_getUncleCountByBlockHash", "eth_getUncleCountByBlockNumber",
    "net_listening", "web3_clientVersion", "eth_protocolVersion",
})
# Methods that act for one of the credential's sessions: only these load the session list
# (a read or eth_chainId needs the credential checked, not its sessions).
SESSION_METHODS = frozenset({
    "eth_accounts", "eth_requestAccounts", "eth_sendTransaction", "wallet_sendTransaction",
    "eth_signTransaction", "personal_sign", "eth_signTypedData_v4",
})
_HEX_MESSAGE = re.compile(r"0x([0-9a-fA-F]{2})*")

# Answered or decided here rather than passed through (also the metrics' method label set).
SIGNING_AND_LOCAL_METHODS = frozenset({
    "eth_chainId", "net_version", "eth_accounts", "eth_requestAccounts", "eth_sendTransaction",
    "wallet_sendTransaction", "eth_signTransaction", "personal_sign", "eth_signTypedData_v4",
    "eth_sign", "eth_sendRawTransaction", "studio_getApproval",
}) | STUDIO_METHODS
# Methods whose answer is a signing decision (counted by reason).
DECIDING_METHODS = frozenset({
    "eth_sendTransaction", "wallet_sendTransaction", "eth_signTransaction", "personal_sign",
    "eth_signTypedData_v4",
})

Handler = Callable[[Caller, list[Any]], Awaitable[Any]]


class RpcMethods:
    def __init__(self, deps: RpcPlaneDeps) -> None:
        self._deps = deps
        self._nonces = NonceOracle()
        self._local: dict[str, Handler] = {
            "eth_chainId": self._chain_id,
            "net_version": self._net_version,
            "eth_accounts": self._accounts,
            "eth_requestAccounts": self._accounts,
            "eth_sendTransaction": self._send_transaction,
            "wallet_sendTransaction": self._send_transaction,
            "eth_signTransaction": self._sign_transaction,
            "personal_sign": self._personal_sign,
            "eth_signTypedData_v4": self._sign_typed_data,
            "eth_sign": self._refuse_eth_sign,
            "eth_sendRawTransaction": self._send_raw_transaction,
            "studio_getApproval": self._get_approval,
        }
        assert set(self._local) | STUDIO_METHODS == SIGNING_AND_LOCAL_METHODS

    async def dispatch(self, caller: Caller, call: Call) -> Any:
        if call.method in STUDIO_METHODS:
            return await studio_call(self._deps.agents, caller, call.method, call.params)
        handler = self._local.get(call.method)
        if handler is not None:
            return await handler(caller, call.params)
        if call.method in READ_METHODS:
            return await self._upstream(caller).call(call.method, call.params)
        raise MethodNotFound(call.method)

    @staticmethod
    def _upstream(caller: Caller) -> Upstream:
        return require_chain(caller).upstream

    async def _chain_id(self, caller: Caller, params: list[Any]) -> str:
        self._upstream(caller)
        return hex(caller.chain_id)

    async def _net_version(self, caller: Caller, params: list[Any]) -> str:
        self._upstream(caller)
        return str(caller.chain_id)

    async def _accounts(self, caller: Caller, params: list[Any]) -> list[str]:
        self._upstream(caller)
        return active_addresses(caller, self._deps.clock())

    async def _send_transaction(self, caller: Caller, params: list[Any]) -> str:
        return await handle_transaction(self._deps, caller, params,
                                        method="eth_sendTransaction", broadcast=True,
                                        nonces=self._nonces)

    async def _sign_transaction(self, caller: Caller, params: list[Any]) -> str:
        # Reserved exactly like a send: whoever holds the raw transaction can broadcast it.
        return await handle_transaction(self._deps, caller, params,
                                        method="eth_signTransaction", broadcast=False,
                                        nonces=self._nonces)

    async def _personal_sign(self, caller: Caller, params: list[Any]) -> str:
        arity(params, 2, 3, "personal_sign")
        require_chain(caller)
        message = _message_bytes(params[0])
        session = await session_for_address(caller, params[1], "address")
        policy = session.policy()

        def decide(state: SessionState, now_ms: int) -> Decision:
            return evaluate_message(policy=policy, state=state, chain_id=caller.chain_id,
                                    message=message, now_ms=now_ms)

        return await sign_with_policy(self._deps, caller, SigningRequest(
            method="personal_sign", session=session, decide=decide,
            payload=Message(message=message)), nonces=self._nonces)

    async def _sign_typed_data(self, caller: Caller, params: list[Any]) -> str:
        """EIP-712: permits are approvals (spend, reserved like a send); other data is opaque."""
        arity(params, 2, 2, "eth_signTypedData_v4")
        chain = require_chain(caller)
        session = await session_for_address(caller, params[0], "address")
        typed = _typed_data(params[1])
        deps = self._deps
        try:
            decoded = decode_typed_data(typed, chain.assets, sender=session.address.lower())
        except TypedDataTooLarge as exc:
            raise InvalidParams(f"invalid params: {exc}") from None
        # Hashed now, before the ledger's lock (catalogue 14): inside it, only the signature.
        encoded = (SigningRefusedError("undecodable typed data is never signed")
                   if isinstance(decoded, Undecodable) else _encode(deps.keystore, typed))
        prices = await deps.prices.price_book(chain.chain_id)
        policy = session.policy()

        def decide(state: SessionState, now_ms: int) -> Decision:
            return evaluate_typed_data(policy=policy, state=state, chain_id=caller.chain_id,
                                       decoded=decoded, prices=prices, now_ms=now_ms)

        hold = None if policy.approve_above is None else typed_data_draft(
            chain_id=chain.chain_id, chain_name=chain.label, unit=policy.unit, typed=typed,
            decoded=decoded, ttl_ms=deps.approval_ttl_ms)
        # Decided, reserved (a permit's allowance is spend) and signed in one ledger transaction.
        return await sign_with_policy(deps, caller, SigningRequest(
            method="eth_signTypedData_v4", session=session, decide=decide, hold=hold,
            payload=TypedData(encoded=encoded)), nonces=self._nonces)

    async def _get_approval(self, caller: Caller, params: list[Any]) -> dict[str, Any]:
        """A held request's status, for the credential that made it (app or agent): the
        original method's answer once approved (the tx hash of a send)."""
        arity(params, 1, 1, "studio_getApproval")
        approval_id = params[0]
        if not isinstance(approval_id, str) or not 0 < len(approval_id) <= 64:
            raise InvalidParams("invalid params: approval_id must be a string")
        owner = caller.owner
        missing = InvalidParams(f"invalid params: no approval {approval_id} for this "
                                f"credential")
        try:
            approval = await self._deps.store.get_approval(approval_id,
                                                           workspace_id=owner.workspace_id)
            session = await self._deps.store.get_session_by_id(approval.session_id)
        except NotFound:
            raise missing from None
        ours = (session.id == owner.owner_id if owner.kind == "session"
                else session.agent_id == owner.owner_id)
        if not ours:
            raise missing
        return {"approval_id": approval.id, "status": approval.status.value,
                "result": approval.result, "reason": approval.reason,
                "summary": approval.summary, "cost": format_amount(approval.cost),
                "unit": approval.unit, "expires_at": iso(approval.expires_at_ms),
                "error": None if approval.error is None else dict(approval.error)}

    async def _refuse_eth_sign(self, caller: Caller, params: list[Any]) -> str:
        raise UnsupportedMethod("eth_sign is refused: it signs a raw hash, which can be a "
                                "transaction; use personal_sign or eth_signTypedData_v4")

    async def _send_raw_transaction(self, caller: Caller, params: list[Any]) -> Any:
        if not self._deps.allow_raw_transactions:
            raise UnsupportedMethod("eth_sendRawTransaction is disabled on this sidecar: send "
                                    "eth_sendTransaction so the policy can check it")
        arity(params, 1, 1, "eth_sendRawTransaction")
        hex_bytes(params[0], "transaction")
        return await self._upstream(caller).call("eth_sendRawTransaction", params)


def _typed_data(value: Any) -> dict[str, Any]:
    """Typed data as ethers and viem send it (a JSON string) or as dapps do (an object)."""
    if isinstance(value, str):
        # A second JSON document inside the first: parsed by the body's parser, same caps.
        try:
            value = parse_json(value, max_depth=MAX_NESTING)
        except JsonRejected as exc:
            if exc.too_deep:
                raise InvalidParams("invalid params: typed data nested deeper than "
                                    f"{MAX_NESTING}") from None
            raise InvalidParams("invalid params: typed data is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidParams("invalid params: typed data must be an object or a JSON string")
    return value


def _encode(keystore: LocalKeystore, typed: dict[str, Any]) -> EncodedTypedData | KeystoreError:
    """The typed data hashed by the keystore, or why it cannot be: raised only if the policy
    lets the request reach signing, so a refusal still gets its policy reason."""
    try:
        return keystore.encode_typed_data(typed)
    except KeystoreError as exc:
        return exc


def _message_bytes(value: Any) -> bytes:
    """personal_sign's message: hex is bytes (what ethers/viem send), other text is UTF-8."""
    if not isinstance(value, str):
        raise InvalidParams("invalid params: message must be a string")
    if _HEX_MESSAGE.fullmatch(value):
        return bytes.fromhex(value[2:])
    return value.encode("utf-8")
