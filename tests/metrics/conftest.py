"""A real SQLite store on a temp file, filled through the Store protocol as the sidecar fills it.

Sessions are inserted as records (no keystore): these tests are about what the fleet snapshot,
the collector and the usage recorder make of the ledger, not about signing. Limits are in USD
and costs are written straight into the ledger with `reserve_and_sign`, so every expected
figure is plain integer arithmetic on atoms (10^-18 of the unit).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from session_studio.policy import Decision, Permission, ReasonCode, SessionState
from session_studio.store import Session, SessionType, SqliteStore, Workspace, new_id

UNIT = 10**18  # atoms per unit
MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
T0 = 1_749_988_830_000  # 2025-06-15 12:00:30 UTC, mid-minute


def make_session(workspace: Workspace, *, type_: SessionType = SessionType.APP,
                 agent_id: str | None = None, label: str = "payouts", unit: str = "USD",
                 daily: int = 100 * UNIT, created_at_ms: int = T0,
                 lifetime_ms: int = DAY_MS, lineage_id: str | None = None,
                 predecessor_id: str | None = None) -> Session:
    session_id = new_id()
    return Session(
        id=session_id, workspace_id=workspace.id, type=type_, label=label, agent_id=agent_id,
        agent_name=None, key_hash="0x" + os.urandom(32).hex(),
        address=to_checksum_address(os.urandom(20)), permissions=(Permission.TRANSFER,),
        chain_ids=(31337,), tokens=("ETH",), limit_unit=unit, per_tx_limit=daily,
        daily_limit=daily, created_at_ms=created_at_ms,
        expires_at_ms=created_at_ms + lifetime_ms, revoked_at_ms=None,
        lineage_id=lineage_id or session_id, predecessor_id=predecessor_id,
        credential_version=1)


async def add(store: SqliteStore, session: Session) -> Session:
    await store.insert_session(session, sealed_key=os.urandom(96),
                               credential_hash=None if session.agent_id else os.urandom(32))
    return session


async def add_agent(store: SqliteStore, workspace: Workspace, name: str, *,
                    daily_budget: int | None) -> str:
    agent = await store.create_agent(workspace.id, name, daily_budget=daily_budget, now_ms=T0,
                                     credential_hash=os.urandom(32), agent_id=new_id())
    return agent.id


async def spend(store: SqliteStore, session: Session, atoms: int, *, now_ms: int = T0) -> None:
    """One allowed, signed decision costing `atoms`, written by the real ledger transaction."""
    await store.reserve_and_sign(
        session_id=session.id, method="personal_sign", clock=lambda: now_ms,
        window_mode="rolling_24h",
        evaluate=lambda _state, _now: Decision(allowed=True, reason=None, detail="", cost=atoms),
        nonce=None, sign=lambda _nonce, _sealed: (b"sig", None, None))


async def deny(store: SqliteStore, session: Session, *, now_ms: int = T0) -> None:
    """One policy denial of `session`, recorded as the RPC plane records it."""

    def refuse(_state: SessionState, _now: int) -> Decision:
        return Decision(allowed=False, reason=ReasonCode.PER_TX_LIMIT_EXCEEDED,
                        detail="over", cost=0)

    await store.reserve_and_sign(
        session_id=session.id, method="personal_sign", clock=lambda: now_ms,
        window_mode="rolling_24h", evaluate=refuse, nonce=None,
        sign=lambda _nonce, _sealed: (b"sig", None, None))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "studio.db")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def workspace(store: SqliteStore) -> Workspace:
    return await store.create_workspace("fleet", now_ms=T0)
