"""The spend ledger: reserve, sign, release, settle, and what may be read from it.

Consistency contract (what every backend must guarantee; tests/store/contract/ checks it):
- `reserve_and_sign` is one serialisable step per lineage and per signer: the session's state,
  its window usage and the nonce counter are read, the policy evaluated, the cost reserved, the
  nonce picked and the artefact signed under one lock, and committed together or not at all (a
  `sign` that raises reserves nothing). Concurrent reservations (threads, or processes on one
  database) never overshoot a limit and never share a nonce. SQLite takes the database write
  lock (`BEGIN IMMEDIATE`); PostgreSQL would lock the lineage row (`SELECT ... FOR UPDATE`).
- A revoke (SessionRepository) needs the same lock, so it cannot return while a signature for
  the session is still being made, and no signature begins after it returned.
- `release`, `record_outcome` and `settle` are each one transaction, and each only moves a
  reservation forward (`OUTCOME_FROM`, `RELEASABLE` in `_records.py`): `release` of a released
  reservation, `settle` of a settled one, and a late outcome for a send another process
  already finished change nothing and return False. So every replica may run the settlement
  loop, its sweep of sends left `signed`, and crash recovery over one ledger, while the send's
  own process is still alive.
- The reads (`LedgerReader`, `unsettled`, `unbroadcast_sends`) see committed data only and may
  be stale the moment they return: nothing decides a limit on them; only `reserve_and_sign`
  decides, on what it reads under its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from session_studio.policy import Decision, SessionState

from ._admin_records import DecisionRecord
from ._approval_records import ApprovalDraft
from ._records import (
    NonceRequest,
    Reservation,
    ReservationStatus,
    UnbroadcastSend,
    UnsettledSend,
)

# The engine's verdict on the state read inside the reserving transaction, judged at `now_ms`:
# the clock as the store read it there, once it held the ledger's lock.
Evaluate = Callable[[SessionState, int], Decision]
Clock = Callable[[], int]  # unix milliseconds
T = TypeVar("T")
# Called inside the reserving transaction with the picked nonce and the sealed key; returns the
# signed artefact, its transaction hash and raw bytes (both None for message signatures).
Sign = Callable[[int | None, bytes | None], tuple[T, str | None, bytes | None]]


class LedgerReader(Protocol):
    """What the ledger has recorded, for views and reports (committed data, may be stale)."""

    async def spent_in_window(self, lineage_id: str, *, window_start_ms: int) -> int: ...
    async def reservations(self, session_id: str) -> Sequence[tuple[str, int, str | None]]:
        """(status, amount, tx_hash) of every reservation of a session, oldest first."""
    async def spend_by_hour(self, lineage_ids: Sequence[str], *,
                            since_ms: int) -> dict[int, int]:
        """Spend per hour (hour start in unix ms -> unit atoms) of these lineages."""
    async def recent_decisions(self, session_id: str, *, limit: int) -> list[DecisionRecord]:
        """A session's latest signing decisions, newest first, with the tx hash if any."""


class Ledger(LedgerReader, Protocol):
    """The one place a signature is authorised and paid for (see the module docstring)."""

    async def reserve_and_sign(
        self, *, session_id: str, method: str, clock: Clock, window_mode: str,
        evaluate: Evaluate, nonce: NonceRequest | None, sign: Sign[T],
        gas_wei: int | None = None, hold: ApprovalDraft | None = None,
    ) -> tuple[Decision, Reservation | None, T | None]:
        """Read the session's state and window usage, evaluate, and on allow reserve the cost,
        pick a nonce and sign: all in one transaction. No concurrent request sees stale usage,
        and a revoke (which needs the same write lock) cannot return while a signature for the
        session is still being made. If `sign` raises, nothing is reserved.

        `clock` is called once, after the lock is taken: expiry, the rate limit's minute and
        the spend window (`window_mode`, see `policy.window_start_ms`) are judged at that
        instant, never at a time read before a wait for the lock (issue 10, item 13).

        The reservation records `Decision.gas_cost` (the worst-case gas part of the cost, in
        unit atoms) and `gas_wei` (the same worst case in wei, gas * maxFeePerGas), which
        settlement needs to scale the gas part down to the receipt's real cost.

        A verdict of "held" (`Decision.held`) with a `hold` draft reserves the cost without
        signing: a `reserved` reservation (no nonce) and a pending approval `hold.id` are
        recorded with an `approval.pending` outbox event (`_approval_interface.py`); the
        reservation is returned and the signed artefact is None. Held without a draft is
        treated as a refusal (nothing reserved): fail closed. Before the window is read, the
        lineage's pending approvals past their expiry are expired (their cost released)."""
    async def release(self, reservation: Reservation, *, now_ms: int,
                      return_nonce: bool) -> bool:
        """The request provably never reached the chain: give back its spend (and nonce).

        Only a reservation still open to it (`reserved`, `signed` or `unknown`) is released; a
        `broadcast`, settled or released one is left as it is and False returned: a node took
        it, so a later "nonce too low" (heard by a slow owner after another replica's
        rebroadcast was mined) proves nothing about it."""
    async def record_outcome(
        self, reservation: Reservation, *, status: ReservationStatus, now_ms: int
    ) -> bool:
        """Record what a broadcast did: `broadcast` or `unknown` (ValueError otherwise).

        Forward only, in one conditional write: `broadcast` from `reserved`, `signed` or
        `unknown`; `unknown` from `reserved` or `signed`. Anything else (a settled or released
        row, a `broadcast` row told `unknown` by a broadcast that timed out after another
        replica's was accepted) is left alone and False returned."""
    async def unbroadcast_sends(self, *,
                                signed_before_ms: int | None = None) -> list[UnbroadcastSend]:
        """Sends signed (or sent without an answer) but not known to be broadcast, by chain,
        signer and nonce; with `signed_before_ms`, only those signed before that instant (the
        settlement sweep leaves younger ones to the process that is still broadcasting them)."""
    async def unsettled(self, *, limit: int = 200,
                        after: tuple[int, str] | None = None) -> list[UnsettledSend]:
        """What settlement follows, oldest first, at most `limit`, starting after the cursor
        (`UnsettledSend.cursor`): `eth_sendTransaction` reservations still `broadcast` or
        `unknown`, and `eth_signTransaction` ones still `signed` (held by the client, who may
        broadcast them any time), none settled yet."""
    async def settle(
        self, reservation_id: str, *, amount: int, status: ReservationStatus, now_ms: int,
        gas_wei_used: int | None = None, receipt_status: int | None = None,
    ) -> bool:
        """Correct an unsettled reservation to what it really spent, in one transaction.

        `status` SETTLED: the reservation now counts `amount` (unit atoms) and its minute
        bucket moves by exactly `amount` minus what it held. `status` RELEASED: it never
        reached the chain; `amount` must be 0, its whole amount leaves the bucket, the row
        keeps the amount it had reserved (as `release` does) and its nonce is not returned.
        The real gas (`gas_wei_used`, wei) and the receipt's status are recorded. Returns
        False, changing nothing, if the reservation is already settled or released, or is not
        `broadcast`/`unknown` (a send) or `signed` (an `eth_signTransaction`): settling twice
        (two processes, a repeated round) is a no-op, and a send still `signed` is left to
        recovery (`proxy/_recovery.py`: at start, and settlement's sweep of old ones)."""
