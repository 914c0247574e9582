"""A real SQLite outbox with approval events in it, and a real local receiver.

The events are inserted with SQL over a real session, reservation and approval, exactly as
the ledger's hold and decide transactions write them; the notifier then sees them only
through the `ApprovalOutbox` protocol. Receivers are aiohttp apps on a free local port
(pytest-aiohttp's `aiohttp_server`), answering as each test scripts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from eth_utils import to_checksum_address
from session_studio.policy import Decision, Permission, SessionState
from session_studio.store import Session, SessionType, SqliteStore, new_id

SECRET = "whsec_test_0123456789abcdef"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Outbox:
    """Adds approval events to the database file, as the ledger would."""

    def __init__(self, path: Path, approval_id: str, workspace_id: str) -> None:
        self.path = path
        self.approval_id = approval_id
        self.workspace_id = workspace_id

    def add(self, kind: str = "approval.pending") -> int:
        body = f'{{"approval_id":"{self.approval_id}","type":"{kind}"}}'
        with contextlib.closing(sqlite3.connect(self.path)) as conn, conn:
            cur = conn.execute(
                "INSERT INTO approval_events (approval_id, workspace_id, kind, body, created_at,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
                (self.approval_id, self.workspace_id, kind, body, now_ms(), now_ms()))
            return int(cur.lastrowid or 0)

    def row(self, event_id: int) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            conn.row_factory = sqlite3.Row
            return dict(conn.execute("SELECT * FROM approval_events WHERE id = ?",
                                     (event_id,)).fetchone())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "studio.db")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def outbox(store: SqliteStore, tmp_path: Path) -> Outbox:
    workspace = await store.create_workspace("notify-tests", now_ms=now_ms())
    session_id = new_id()
    session = Session(
        id=session_id, workspace_id=workspace.id, type=SessionType.APP, label="payouts",
        agent_id=None, agent_name=None, key_hash="0x" + os.urandom(32).hex(),
        address=to_checksum_address(os.urandom(20)), permissions=(Permission.TRANSFER,),
        chain_ids=(31337,), tokens=("ETH",), limit_unit="ETH", per_tx_limit=10**18,
        daily_limit=10**19, created_at_ms=now_ms(), expires_at_ms=now_ms() + 3_600_000,
        revoked_at_ms=None, lineage_id=session_id, predecessor_id=None, credential_version=1)
    await store.insert_session(session, sealed_key=os.urandom(96),
                               credential_hash=os.urandom(32))

    def allow(_state: SessionState, _now: int) -> Decision:
        return Decision(allowed=True, reason=None, detail="", cost=1)

    _, reservation, _ = await store.reserve_and_sign(
        session_id=session.id, method="personal_sign", clock=now_ms,
        window_mode="rolling_24h", evaluate=allow, nonce=None,
        sign=lambda _nonce, _sealed: (b"sig", None, None))
    assert reservation is not None
    path = tmp_path / "studio.db"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO approvals (id, workspace_id, session_id, lineage_id, reservation_id,"
            " method, chain_id, status, cost, unit, summary, detail, payload, created_at,"
            " expires_at) VALUES ('appr-1', ?, ?, ?, ?, 'eth_sendTransaction', 31337,"
            " 'pending', '1', 'ETH', 'transfer 1 ETH', '{}', '{}', ?, ?)",
            (workspace.id, session.id, session.lineage_id, reservation.id, now_ms(),
             now_ms() + 3_600_000))
    return Outbox(path, "appr-1", workspace.id)


@dataclass
class Receiver:
    """A webhook receiver that answers with the scripted statuses, then 200."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hang: bool = False


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Any]) -> Receiver:
    box: list[Receiver] = []

    async def hook(request: web.Request) -> web.Response:
        me = box[0]
        body = await request.read()
        me.received.append((dict(request.headers), body))
        if me.hang:
            await request.app["never"].wait()
        return web.Response(status=me.statuses.pop(0) if me.statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app["never"] = asyncio.Event()
    server = await aiohttp_server(app)
    box.append(Receiver(url=str(server.make_url("/hook"))))
    return box[0]
