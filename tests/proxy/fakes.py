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
from session_studio.store import Reservation, ReservationStatus


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
                             now_ms: int) -> None:
        self.outcomes.append(status)

    async def release(self, reservation: Reservation, *, now_ms: int,
                      return_nonce: bool) -> None:
        self.releases.append(return_nonce)
