"""The one signing pipeline: every signing method ends here, whatever it signs.

One request, one direction (STYLE.md). A method handler parses its params and builds a
`SigningRequest`: the session it speaks for, a pure `decide` and what to sign (`Transaction`,
`Message`, `TypedData`). `sign_with_policy` does the rest, the same way for all of them:

    decide -> reserve + sign (one ledger transaction) -> broadcast -> record the outcome

- decide: `SigningRequest.decide` is the policy engine bound to what the method decoded; the
  store calls it once per attempt, inside the reserving transaction, with the session's state
  read under the write lock (docs/design.md, "Atomicity").
- reserve + sign: `reserve_and_sign` below is the only caller of `Store.reserve_and_sign`. The
  key is used in that transaction, the nonce (transactions only) is picked there, and a
  keystore failure rolls everything back and is answered -32603 here, once for every method.
- broadcast and outcome: a `Transaction` with `broadcast=True` (eth_sendTransaction) is handed
  to the node; what the node's answer means for the reservation and the nonce is
  `_outcome.py`'s table, shared with crash recovery. Settlement (`_settlement.py`)
  later settles what was broadcast, by receipt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from session_studio.keystore import EncodedTypedData, KeyContext, KeystoreError
from session_studio.policy import Decision, SessionState
from session_studio.store import ApprovalDraft, NonceGap, NonceRequest, Reservation, Session

from ._context import Caller, ChainRuntime, RpcPlaneDeps
from ._errors import ApprovalRequired, InternalError, InvalidParams, PolicyDenied, UpstreamError
from ._nonces import NonceOracle
from ._outcome import Attempt, send_raw, settle_broadcast

log = logging.getLogger("session_studio.proxy")

Decide = Callable[[SessionState, int], Decision]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """A transaction: signed at the nonce the ledger picks, and broadcast or handed back."""

    chain: ChainRuntime
    fields: Callable[[int], Mapping[str, Any]]  # the exact transaction signed at a nonce
    nonce: NonceRequest
    gas_wei: int  # the worst-case gas in wei, which settlement scales to the real cost
    # eth_sendTransaction: broadcast here. eth_signTransaction: the raw transaction is the answer.
    broadcast: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """An EIP-191 personal message, the exact bytes signed."""

    message: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedData:
    """EIP-712 data hashed before the ledger's lock (catalogue 14), or why it cannot be: the
    error is raised only if the policy lets the request reach signing, so a refusal still gets
    its policy reason."""

    encoded: EncodedTypedData | KeystoreError


Payload = Transaction | Message | TypedData


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningRequest:
    """What one signing method asks of the pipeline, built by its handler from the params."""

    method: str  # as recorded in the ledger and the audit trail
    session: Session
    decide: Decide  # pure; evaluated by the store inside the reserving transaction
    payload: Payload
    # What the request waits as if the policy holds it for a person (a session with an
    # `approve_above`; `_holds.py`). None: a held verdict is refused, nothing reserved.
    hold: ApprovalDraft | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Signed:
    raw: bytes  # the raw transaction, or the 65-byte signature
    tx_hash: str | None  # transactions only


async def sign_with_policy(deps: RpcPlaneDeps, caller: Caller, request: SigningRequest, *,
                           nonces: NonceOracle) -> str:
    """Decide, reserve and sign; broadcast a send and record what the node said.

    Answers the hex the client gets: the tx hash of a send, the raw transaction of
    eth_signTransaction, the signature of a message. A refusal raises `PolicyDenied`; a
    node's refusal of a send is handed on as the node's error (`UpstreamError`)."""
    reservation, signed = await reserve_and_sign(deps, caller, request)
    payload = request.payload
    if not isinstance(payload, Transaction):
        return "0x" + signed.raw.hex()
    nonces.counted(payload.chain, request.session)
    if not payload.broadcast:
        return "0x" + signed.raw.hex()
    assert signed.tx_hash is not None
    sent = await send_raw(payload.chain.upstream, signed.raw)
    await settle_broadcast(
        deps.store, payload.chain.upstream, reservation, answer=sent.answer,
        attempt=Attempt(first=True, explicit_nonce=payload.nonce.explicit is not None),
        tx_hash=signed.tx_hash, now_ms=deps.clock())
    if isinstance(sent.error, UpstreamError):
        # Whatever the node said, its pending count is worth asking again next time.
        nonces.doubt(payload.chain, request.session)
        raise sent.error
    if sent.error is not None:
        raise InternalError(
            "upstream did not answer: the transaction may or may not have been broadcast",
            {"tx_hash": signed.tx_hash, "request_id": caller.request_id}) from sent.error
    return signed.tx_hash


async def reserve_and_sign(deps: RpcPlaneDeps, caller: Caller,
                           request: SigningRequest) -> tuple[Reservation, Signed]:
    """The only call of `Store.reserve_and_sign`: one ledger transaction for every method."""
    session = request.session
    ctx = KeyContext(workspace_id=session.workspace_id, session_id=session.id)
    payload = request.payload

    def sign(nonce: int | None, sealed: bytes | None) -> tuple[Signed, str | None, bytes | None]:
        signed = sign_payload(deps, payload, nonce, sealed, ctx)
        return signed, signed.tx_hash, signed.raw if signed.tx_hash is not None else None

    transaction = payload if isinstance(payload, Transaction) else None
    try:
        decision, reservation, signed = await deps.store.reserve_and_sign(
            session_id=session.id, method=request.method, clock=deps.clock,
            window_mode=deps.window_mode, evaluate=request.decide,
            nonce=None if transaction is None else transaction.nonce, sign=sign,
            gas_wei=None if transaction is None else transaction.gas_wei, hold=request.hold)
    except NonceGap as exc:
        raise InvalidParams(f"invalid params: {exc}; a transaction behind a gap is never "
                            f"signed (leave the nonce out and the sidecar picks it)") from exc
    except KeystoreError as exc:
        log.error("signing failed", extra={"request_id": caller.request_id,
                                           "error": type(exc).__name__})
        raise InternalError("internal error: signing failed",
                            {"request_id": caller.request_id}) from exc
    if decision.held and request.hold is not None:
        raise ApprovalRequired(decision, approval_id=request.hold.id,
                               expires_at_ms=deps.clock() + request.hold.ttl_ms)
    if not decision.allowed:
        raise PolicyDenied(decision)
    assert reservation is not None and signed is not None
    return reservation, signed


def sign_payload(deps: RpcPlaneDeps, payload: Payload, nonce: int | None, sealed: bytes | None,
          ctx: KeyContext) -> Signed:
    """Inside the reserving transaction: the key is used here and nowhere else."""
    if isinstance(payload, TypedData) and isinstance(payload.encoded, KeystoreError):
        raise payload.encoded
    started = time.perf_counter()
    if isinstance(payload, Transaction):
        assert nonce is not None
        signed_tx = deps.keystore.sign_transaction(sealed, ctx, payload.fields(nonce))
        signed = Signed(raw=signed_tx.raw, tx_hash=signed_tx.tx_hash)
    elif isinstance(payload, Message):
        signed = Signed(raw=deps.keystore.sign_personal_message(sealed, ctx, payload.message),
                        tx_hash=None)
    else:
        assert not isinstance(payload.encoded, KeystoreError)
        signed = Signed(raw=deps.keystore.sign_encoded_typed_data(sealed, ctx, payload.encoded),
                        tx_hash=None)
    deps.observer.signed(time.perf_counter() - started)
    return signed
