"""The SQLite store on a real file, with the real policy engine deciding inside its transaction.

Sessions are built as records and inserted directly (no keystore): `sign` is a stand-in that
returns a fixed signature, so these tests are about the ledger, nonces and shredding alone.
Limits are in ETH and transfers carry a zero gas price, so a transfer's cost in limit-unit atoms
is exactly its value in wei: every expected figure below is plain integer arithmetic.

Helpers live here as plain functions (imported by the tests, by the hypothesis properties and by
the spawned worker processes); fixtures give each test its own database file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address
from session_studio.policy import (
    Asset,
    ChainAssets,
    Decision,
    Permission,
    PriceBook,
    SessionState,
    TransactionRequest,
    decode_transaction,
    evaluate_transaction,
)
from session_studio.store import (
    NonceRequest,
    Reservation,
    Session,
    SessionType,
    SqliteStore,
    Workspace,
    new_id,
)

CHAIN_ID = 31337
ETHER = 10**18  # wei per ETH, and limit-unit atoms per ETH
MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
# A fixed "now" in the middle of a minute (so "the same minute" and "the next minute" are
# both a few seconds away): 2025-06-15 12:00:30 UTC.
T0 = 1_749_988_830_000
RECIPIENT = "0x000000000000000000000000000000000000bEEF"
FAKE_TX_HASH = "0x" + "ab" * 32

_ETH = Asset(chain_id=CHAIN_ID, symbol="ETH", decimals=18)
_ASSETS = ChainAssets(chain_id=CHAIN_ID, native=_ETH, tokens={})
_PRICES = PriceBook({(CHAIN_ID, "ETH"): Fraction(3000)})


def fake_sign(nonce: int | None, sealed: bytes | None) -> tuple[bytes, str, bytes]:
    return b"sig", FAKE_TX_HASH, b"raw"


def transfer_evaluate(session: Session, value_wei: int, now_ms: int | None = None, *,
                      max_outstanding_signed: int | None = None,
                      ) -> Callable[[SessionState, int], Decision]:
    """The engine's verdict on a plain ETH transfer of `value_wei` (cost = value_wei atoms),
    judged at the time the store read inside its transaction (or at `now_ms` if given);
    `max_outstanding_signed` as the proxy passes it for eth_signTransaction."""
    tx = TransactionRequest(chain_id=CHAIN_ID, declared_chain_id=CHAIN_ID,
                            sender=session.address.lower(), to=RECIPIENT.lower(),
                            value=value_wei, data=b"", gas=21_000, max_fee_per_gas=0, tx_type=2)
    decoded = decode_transaction(tx, _ASSETS)
    policy = session.policy()

    def evaluate(state: SessionState, in_lock_ms: int) -> Decision:
        return evaluate_transaction(policy=policy, state=state, tx=tx, decoded=decoded,
                                    prices=_PRICES,
                                    now_ms=in_lock_ms if now_ms is None else now_ms,
                                    max_outstanding_signed=max_outstanding_signed)

    return evaluate


def new_session(workspace: Workspace, *, per_tx: int = 10 * ETHER, daily: int = 100 * ETHER,
                lineage_id: str | None = None, predecessor_id: str | None = None,
                created_at_ms: int = T0, lifetime_ms: int = 30 * DAY_MS) -> Session:
    session_id = new_id()
    return Session(
        id=session_id, workspace_id=workspace.id, type=SessionType.APP, label="ledger",
        agent_id=None, agent_name=None, key_hash="0x" + os.urandom(32).hex(),
        address=to_checksum_address(os.urandom(20)), permissions=(Permission.TRANSFER,),
        chain_ids=(CHAIN_ID,), tokens=("ETH",), limit_unit="ETH", per_tx_limit=per_tx,
        daily_limit=daily, created_at_ms=created_at_ms,
        expires_at_ms=created_at_ms + lifetime_ms, revoked_at_ms=None,
        lineage_id=lineage_id or session_id, predecessor_id=predecessor_id,
        credential_version=1)


async def insert_session(store: SqliteStore, workspace: Workspace, **limits: Any) -> Session:
    session = new_session(workspace, **limits)
    await store.insert_session(session, sealed_key=os.urandom(96),
                               credential_hash=os.urandom(32))
    return session


def nonce_request(session: Session, *, upstream_pending: int = 0,
                  explicit: int | None = None) -> NonceRequest:
    return NonceRequest(chain_id=CHAIN_ID, address=session.address,
                        upstream_pending=upstream_pending, explicit=explicit)


async def reserve(store: SqliteStore, session: Session, value_wei: int, *, now_ms: int = T0,
                  upstream_pending: int = 0, explicit_nonce: int | None = None,
                  sign: Callable[[int | None, bytes | None], tuple[Any, str | None]] = fake_sign,
                  evaluate: Callable[[SessionState, int], Decision] | None = None,
                  clock: Callable[[], int] | None = None,
                  method: str = "eth_sendTransaction",
                  ) -> tuple[Decision, Reservation | None]:
    """One `eth_sendTransaction`'s ledger step, exactly as the proxy calls it; the store reads
    `clock` (default: always `now_ms`) inside its transaction."""
    decision, reservation, _ = await store.reserve_and_sign(
        session_id=session.id, method=method, clock=clock or (lambda: now_ms),
        window_mode="rolling_24h",
        evaluate=evaluate or transfer_evaluate(session, value_wei),
        nonce=nonce_request(session, upstream_pending=upstream_pending,
                            explicit=explicit_nonce),
        sign=sign)
    return decision, reservation


def query(path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the database file as an outsider would: stdlib sqlite3, read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return list(conn.execute(sql, args).fetchall())


def held_amounts(path: Path, session_id: str) -> list[int]:
    """Amounts of the session's reservations that still count (everything not released)."""
    return [int(a) for (a,) in query(
        path, "SELECT amount FROM reservations WHERE session_id = ? AND status != 'released'",
        (session_id,))]


def bucket_total(path: Path, lineage_id: str) -> int:
    return sum(int(a) for (a,) in query(
        path, "SELECT amount FROM spend_buckets WHERE lineage_id = ?", (lineage_id,)))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "studio.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(db_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def workspace(store: SqliteStore) -> Workspace:
    return await store.create_workspace("ledger-tests", now_ms=T0)
