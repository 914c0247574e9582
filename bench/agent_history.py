"""Agent history: does an agent credential's send cost the agent's dead sessions?

An agent can grow its own history for free (studio_createSession / studio_revokeSession, or
rotation), and before store migration 0017 every signing request of its credential read every
session the agent ever had. This measures one `serve` on SQLite and one anvil (automine): one
live agent session, then `DEAD` revoked or expired sessions of the same agent written straight
into the stopped studio's file (half revoked with the sealed key gone, as a revoke leaves it,
half expired), and p50 of `SENDS` sequential raw eth_sendTransaction from the live session
(gas and fees given, nonce by the sidecar) with the agent's credential; then the same with no
`from`, and p50 of a send naming the oldest revoked session's address (the refusal path).

Run: `.venv/bin/python bench/agent_history.py [DEAD]` (default 3,000). Prints a small table.
The code measured is the one the running interpreter imports.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import requests
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from e2e.harness import PRIMARY_CHAIN, start_studio

DEAD = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000
SENDS = 200
TO = "0x000000000000000000000000000000000000bEEF"
DAY_MS = 86_400_000
HTTP = requests.Session()  # one keep-alive connection: the figure is the server's work


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return HTTP.post(url, json=body, headers=headers, timeout=60).json()


def p50_ms(fn: Callable[[], object], n: int) -> float:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def add_dead_sessions(db_path: Path, agent_name: str, n: int) -> str:
    """`n` dead sessions of the agent; returns the address of the oldest revoked one."""
    now = int(time.time() * 1000)
    rows, oldest = [], ""  # no dead session: no address
    with closing(sqlite3.connect(db_path)) as db, db:
        agent_id, ws = db.execute("SELECT id, workspace_id FROM agents WHERE name = ?",
                                  (agent_name,)).fetchone()
        for i in range(n):
            sid = os.urandom(16).hex()
            created = now - 30 * DAY_MS + i * 1000
            revoked = created + 500 if i % 2 == 0 else None
            expires = now + DAY_MS if revoked else created + 600_000
            address = Web3.to_checksum_address(os.urandom(20))
            oldest = oldest or address
            rows.append((sid, ws, "agent", f"churn-{i}", agent_id, os.urandom(32).hex(),
                         address, address.lower(), None if revoked else os.urandom(92),
                         '["transfer"]', f"[{PRIMARY_CHAIN}]", '["ETH","USDC"]', "USD",
                         str(50 * 10**18), str(500 * 10**18), created, expires, revoked, sid,
                         1, None, 0))
        db.executemany(
            "INSERT INTO sessions (id, workspace_id, type, label, agent_id, key_hash, address,"
            " address_lower, sealed_key, permissions, chain_ids, tokens, limit_unit,"
            " per_tx_limit, daily_limit, created_at, expires_at, revoked_at, lineage_id,"
            " credential_version, last_used_at, request_count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return oldest


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        studio = start_studio(Path(tmp), chain_ids=(PRIMARY_CHAIN,))
        try:
            live = studio.create_session(per_tx="1000000", daily="100000000000")
            studio.stop_servers()
            revoked_address = add_dead_sessions(studio.home / "studio.db", live["agent"], DEAD)
            studio.start_server()
            url = studio.rpc_url()
            auth = {"Authorization": f"Bearer {live['credential']}"}
            raw = {"from": live["address"], "to": TO, "value": "0x1", "gas": "0x5208",
                   "maxFeePerGas": hex(10**10), "maxPriorityFeePerGas": hex(10**9)}

            def send(tx: dict[str, Any]) -> Any:
                return post(url, {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction",
                                  "params": [tx]}, auth)

            assert "result" in send(raw), send(raw)
            if DEAD:  # the refusal still names the revocation
                refusal = send({**raw, "from": revoked_address})
                assert refusal["error"]["data"]["reason"] == "session_revoked", refusal
            p50_ms(lambda: send(raw), 20)  # warm-up
            with_from = p50_ms(lambda: send(raw), SENDS)
            no_from = {k: v for k, v in raw.items() if k != "from"}
            without_from = p50_ms(lambda: send(no_from), SENDS)
            refused = (p50_ms(lambda: send({**raw, "from": revoked_address}), SENDS // 2)
                       if DEAD else float("nan"))
        finally:
            studio.stop_servers()
            for node in studio.chains.values():
                node.stop()
    print(f"| agent with 1 live and {DEAD:,} dead sessions | p50 ms |\n|---|---|\n"
          f"| eth_sendTransaction, `from` the live session | {with_from:.2f} |\n"
          f"| eth_sendTransaction, no `from` | {without_from:.2f} |\n"
          f"| eth_sendTransaction from the oldest revoked session (refused) | {refused:.2f} |")


if __name__ == "__main__":
    main()
