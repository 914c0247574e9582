"""Stand-ins for the RPC plane's collaborators, so its rules are tested without a node.

`FakeUpstream` is in the style of httpx's `MockTransport`: the test injects a table from
JSON-RPC method to answer, and the fake answers every call from it (and records the calls).
`RecordingLedger` records what the outcome rules do to a reservation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from session_studio.proxy import Upstream
from session_studio.proxy._errors import UpstreamError, UpstreamUnavailable
from session_studio.store import NonceGap, Reservation, ReservationStatus


@dataclass(frozen=True, slots=True)
class NodeError:
    """The node answers with this error object's message (code -32000)."""

    message: str


class Silent:
    """The node does not answer (a timeout, a refused connection)."""


SILENT = Silent()
Answer = Any | NodeError | Silent | Callable[[list[Any]], Any]


class FakeUpstream(Upstream):
    """Answers each JSON-RPC method from `table`; a method not in it is a test failure."""

    def __init__(self, table: Mapping[str, Answer]) -> None:
        super().__init__("http://fake-upstream.invalid", timeout_s=1)
        self.table = dict(table)
        self.calls: list[tuple[str, list[Any]]] = []

    def asked(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)

    async def call(self, method: str, params: list[Any]) -> Any:
        self.calls.append((method, params))
        if method not in self.table:
            raise AssertionError(f"unexpected upstream call {method}")
        answer = self.table[method]
        if callable(answer) and not isinstance(answer, Silent):
            answer = answer(params)
        if isinstance(answer, NodeError):
            raise UpstreamError({"code": -32000, "message": answer.message})
        if isinstance(answer, Silent):
            raise UpstreamUnavailable("upstream did not answer (fake)")
        return answer


@dataclass
class RecordingLedger:
    """The two ledger calls the outcome rules make, recorded in order."""

    outcomes: list[ReservationStatus] = field(default_factory=list)
    releases: list[bool] = field(default_factory=list)  # return_nonce of each release

    async def record_outcome(self, reservation: Reservation, *, status: ReservationStatus,
                             now_ms: int) -> bool:
        self.outcomes.append(status)
        return True

    async def release(self, reservation: Reservation, *, now_ms: int,
                      return_nonce: bool) -> bool:
        self.releases.append(return_nonce)
        return True


@dataclass
class FakeLedger(RecordingLedger):
    """`reserve_and_sign` as the store runs it, minus SQLite: decide on `state`, pick the
    nonce (the client's, else the node's pending count), sign, return the reservation."""

    state: Any = None  # the SessionState the store would read under its lock
    decided: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    holds: list[Any] = field(default_factory=list)  # the approval drafts of held requests

    async def reserve_and_sign(self, *, session_id: str, method: str, clock: Callable[[], int],
                               window_mode: str, evaluate: Callable[[Any, int], Any],
                               nonce: Any, sign: Callable[[int | None, bytes | None], Any],
                               gas_wei: int | None = None,
                               hold: Any = None) -> tuple[Any, Any, Any]:
        decision = evaluate(self.state, clock())
        self.decided += 1
        if decision.held and hold is not None:
            self.holds.append(hold)
            return decision, Reservation(id=f"h{len(self.holds)}", session_id=session_id,
                                         amount=decision.cost, nonce=None,
                                         chain_id=hold.chain_id), None
        if not decision.allowed:
            return decision, None, None
        picked = None if nonce is None else (
            nonce.explicit if nonce.explicit is not None else nonce.upstream_pending)
        if picked is not None and picked > nonce.upstream_pending:
            raise NonceGap(picked, nonce.upstream_pending)  # the ledger's counter is not faked
        signed, tx_hash, raw_tx = sign(picked, b"sealed")
        self.rows.append({"method": method, "nonce": picked, "tx_hash": tx_hash,
                          "raw_tx": raw_tx, "gas_wei": gas_wei})
        reservation = Reservation(id=f"r{len(self.rows)}", session_id=session_id,
                                  amount=decision.cost, nonce=picked,
                                  chain_id=0 if nonce is None else nonce.chain_id)
        return decision, reservation, signed


class FakeKeystore:
    """Signs nothing real: fixed bytes per kind, or `failure` raised inside the ledger."""

    RAW_TX = b"\x02raw-transaction"
    TX_HASH = "0x" + "cd" * 32
    SIGNATURE = b"\x1b" * 65

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.signed: list[str] = []

    def _sign(self, kind: str) -> None:
        if self.failure is not None:
            raise self.failure
        self.signed.append(kind)

    def sign_transaction(self, sealed: bytes | None, ctx: Any, tx: Mapping[str, Any]) -> Any:
        from session_studio.keystore import SignedTransaction
        self._sign("transaction")
        return SignedTransaction(raw=self.RAW_TX, tx_hash=self.TX_HASH)

    def sign_personal_message(self, sealed: bytes | None, ctx: Any, message: bytes) -> bytes:
        self._sign("message")
        return self.SIGNATURE

    def encode_typed_data(self, typed: Mapping[str, Any]) -> object:
        return ("encoded", id(typed))

    def sign_encoded_typed_data(self, sealed: bytes | None, ctx: Any, encoded: object) -> bytes:
        self._sign("typed_data")
        return self.SIGNATURE
