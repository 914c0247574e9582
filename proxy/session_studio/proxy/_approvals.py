"""Signing what a person approved: the held request, exactly, through the one pipeline.

    approve -> rebuild the payload from the approval -> re-check + sign (one ledger
    transaction, `Store.approve_and_sign`) -> broadcast a send -> record the outcome

The request was decoded, judged and reserved when it was held; approving re-checks what can
have changed since (revocation, expiry, the windows at this instant: `evaluate_approval`) and
signs the stored payload, with the nonce picked now. Fees and gas are the held ones: they are
inside the reserved worst case, and a changed fee would change what the person approved.
The broadcast and what the node's answer means are the pipeline's (`_outcome.py`), so a send
approved here is settled, recovered and rebroadcast like any other.

Used by whoever may approve: the admin plane (a passkey-authenticated person with a fresh
step-up) and the CLI on the host, both through `services.ApprovalService`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from session_studio.keystore import KeyContext, KeystoreError
from session_studio.policy import Decision, SessionState, evaluate_approval
from session_studio.store import (
    Approval,
    ApprovalStatus,
    Conflict,
    NonceGap,
    NonceRequest,
)

from ._context import RpcPlaneDeps
from ._errors import UpstreamError
from ._outcome import Attempt, send_raw, settle_broadcast
from ._pipeline import Payload, Signed, Transaction, TypedData, sign_payload
from ._upstream import upstream_quantity

log = logging.getLogger("session_studio.proxy")


class ApprovalSigner:
    """Signs approved requests with the RPC plane's keystore, chains and ledger."""

    def __init__(self, deps: RpcPlaneDeps) -> None:
        self._deps = deps

    async def approve(self, approval_id: str, *, workspace_id: str | None,
                      decided_by: str) -> Approval:
        """Sign (and for a send, broadcast) a pending approval; the approval as it ends.

        Raises `NotFound`, and `Conflict` when it is no longer pending or cannot be signed
        here (its chain is not configured, its explicit nonce would open a gap); in the
        latter cases it stays pending. An approval whose re-check fails is returned finished
        (rejected or expired, with the reason), never signed."""
        deps = self._deps
        store = deps.store
        approval = await store.get_approval(approval_id, workspace_id=workspace_id)
        if approval.status is not ApprovalStatus.PENDING:
            raise Conflict(f"approval {approval_id} is already {approval.status.value}")
        session = await store.get_session_by_id(approval.session_id)
        policy = session.policy()
        payload, nonce = await self._payload(approval, session.address)
        ctx = KeyContext(workspace_id=session.workspace_id, session_id=session.id)

        # A raw transaction handed out counts against the outstanding bound, now as then.
        held_back = (deps.max_outstanding_signed
                     if approval.method == "eth_signTransaction" else None)

        def evaluate(state: SessionState, now_ms: int, cost: int) -> Decision:
            return evaluate_approval(policy=policy, state=state, cost=cost, now_ms=now_ms,
                                     max_outstanding_signed=held_back)

        def sign(picked: int | None,
                 sealed: bytes | None) -> tuple[Signed, str | None, bytes | None]:
            signed = sign_payload(deps, payload, picked, sealed, ctx)
            return signed, signed.tx_hash, signed.raw if signed.tx_hash is not None else None

        def result_of(signed: Signed | None) -> str:
            assert signed is not None
            if isinstance(payload, Transaction) and payload.broadcast:
                assert signed.tx_hash is not None
                return signed.tx_hash
            return "0x" + signed.raw.hex()

        try:
            decided, _decision, reservation, signed = await store.approve_and_sign(
                approval_id, workspace_id=workspace_id, decided_by=decided_by,
                clock=deps.clock, window_mode=deps.window_mode, evaluate=evaluate,
                nonce=nonce, sign=sign, result_of=result_of,
                gas_wei=payload.gas_wei if isinstance(payload, Transaction) else None)
        except NonceGap as exc:
            raise Conflict(f"the held transaction's nonce would open a gap ({exc}); it "
                           f"stays pending until the gap is filled") from exc
        except KeystoreError as exc:
            log.error("signing an approved request failed",
                      extra={"approval_id": approval_id, "error": type(exc).__name__})
            raise Conflict("signing failed; the approval stays pending") from exc
        if (decided.status is ApprovalStatus.APPROVED and isinstance(payload, Transaction)
                and payload.broadcast):
            assert reservation is not None and signed is not None
            assert signed.tx_hash is not None
            error = await self._broadcast(payload, reservation, signed, signed.tx_hash)
            if error is not None:
                await store.record_approval_error(approval_id, error)
                decided = await store.get_approval(approval_id, workspace_id=workspace_id)
        return decided

    async def _payload(self, approval: Approval,
                       address: str) -> tuple[Payload, NonceRequest | None]:
        held: Mapping[str, Any] = approval.payload
        kind = held.get("kind")
        if kind == "transaction":
            chain = self._deps.chains.get(approval.chain_id)
            if chain is None:
                raise Conflict(f"chain {approval.chain_id} is not configured here")
            fields = dict(held["fields"])
            if isinstance(fields.get("to"), str):
                fields["to"] = bytes.fromhex(fields["to"][2:])
            # The nonce is taken when it is signed: the node's pending count now, and the
            # ledger's own counter under its lock (`NonceRequest`).
            pending = upstream_quantity(await chain.upstream.call(
                "eth_getTransactionCount", [address, "pending"]), "eth_getTransactionCount")
            explicit = held.get("explicit_nonce")
            transaction = Transaction(
                chain=chain, fields=lambda nonce: {**fields, "nonce": nonce},
                nonce=NonceRequest(chain_id=chain.chain_id, address=address,
                                   upstream_pending=pending,
                                   explicit=None if explicit is None else int(explicit)),
                gas_wei=int(held["gas_wei"]), broadcast=bool(held["broadcast"]))
            return transaction, transaction.nonce
        if kind == "typed_data":
            try:
                encoded: Any = self._deps.keystore.encode_typed_data(dict(held["typed_data"]))
            except KeystoreError as exc:
                encoded = exc
            return TypedData(encoded=encoded), None
        # Messages cost nothing and are never held (`_holds.py` drafts only these two kinds).
        raise Conflict(f"approval {approval.id} holds nothing this version can sign")

    async def _broadcast(self, payload: Transaction, reservation: Any, signed: Signed,
                         tx_hash: str) -> Mapping[str, Any] | None:
        """Hand the approved send to the node; the node's refusal, if any, as an error."""
        sent = await send_raw(payload.chain.upstream, signed.raw)
        await settle_broadcast(
            self._deps.store, payload.chain.upstream, reservation, answer=sent.answer,
            attempt=Attempt(first=True, explicit_nonce=payload.nonce.explicit is not None),
            tx_hash=tx_hash, now_ms=self._deps.clock())
        if isinstance(sent.error, UpstreamError):
            return {"code": sent.error.code, "message": sent.error.message}
        if sent.error is not None:
            return {"code": -32603, "message": "upstream did not answer: the transaction may "
                                               "or may not have been broadcast"}
        return None
