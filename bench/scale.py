"""Scale: does a send, the inventory listing and serve's memory stay flat as the database grows?
(issue 13, "Scale": send latency within 20% from 10 to 1,000,000 ledger entries and 100,000
sessions; listing and filtering <= 50 ms at 100,000 sessions; RSS <= 200 MB there.)

One `serve` on SQLite against one anvil. Between levels serve is stopped and the database is
filled in one transaction (executemany) with what real traffic leaves behind:

- filler sessions of both types (a few agents), 60% active, 20% expired, 20% revoked (sealed
  key NULL, as a revoke leaves it), one credential each, one `session.create` audit entry each;
  their sealed keys are random bytes: nobody ever signs for them;
- ledger entries: one per signed send of a filler session, i.e. a settled (or released)
  `reservations` row with its nonce, tx hash and raw bytes, its `decisions` row, its
  `rpc.decision` audit entry, and its amount in the lineage's minute `spend_buckets` row; the
  signer's `nonces` counter follows. Entries are spread over the 30 days before the run.

Filler audit entries are chained onto the current head with store/_audit.py's entry_hash, so
`audit verify` holds (checked at the end of the run). Levels are cumulative: (sessions, ledger
entries) = (10, 10), (10k, 100k), (100k, 1M).

At each level: p50/p95 of raw JSON-RPC eth_sendTransaction (gas and fees given, nonce left to
the sidecar) over `ROUNDS` rounds of `SENDS` sends from one session (p50: the median of the
rounds' p50s); the same for a session of an agent that holds 1 in 30 of the sessions; p50 of
GET /api/v1/sessions with filters and sorts (an admin API token with sessions:read); the CLI
`sessions list --json` (filtered, and the whole inventory); serve's RSS (VmRSS, /proc) after
the run.

Run: `make bench-scale` or `.venv/bin/python bench/scale.py [--quick] [--out PATH]` (--quick:
1/10 scale). Writes bench/results/scale.md. The code measured is the one the running interpreter
imports: another checkout's venv python measures that checkout.
"""

from __future__ import annotations

import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from e2e.harness import CLI, PRIMARY_CHAIN, Studio, start_studio
from session_studio.store._audit import GENESIS, canonical, entry_hash

HERE = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv
SCALE = 10 if QUICK else 1
# --out PATH: write the table elsewhere (e.g. a "before" run with another checkout's venv).
OUT = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None
LEVELS = ((10, 10), (10_000 // SCALE, 100_000 // SCALE), (100_000 // SCALE, 1_000_000 // SCALE))
SENDS = 200
ROUNDS = 3
LIST_REPEATS = 20
TO = "0x000000000000000000000000000000000000bEEF"
DAY_MS = 86_400_000
MINUTE_MS = 60_000
WORDS = ("alpha", "bravo", "payroll", "treasury", "market", "sweeper", "relay", "vault")


# -- filling -------------------------------------------------------------------------------
@dataclass
class Filler:
    """Appends filler rows to a stopped studio's SQLite file; remembers what it made."""

    db_path: Path
    rng: random.Random
    sessions: list[tuple[str, str, str]]  # (id, address_lower, key_hash) of filler sessions
    agents: list[tuple[str, str]]  # (agent id, name)
    busy_agent: str  # a real agent (its credential is measured) that gets its share of filler
    made_sessions: int = 0
    made_entries: int = 0

    def fill(self, sessions: int, entries: int) -> float:
        """Add filler until there are `sessions` filler sessions and `entries` ledger entries;
        returns the seconds it took."""
        t0 = time.perf_counter()
        with closing(sqlite3.connect(self.db_path)) as db, db:
            audit = _AuditTail(db)
            now = int(time.time() * 1000)
            workspace_id = db.execute("SELECT id FROM workspaces ORDER BY created_at LIMIT 1"
                                      ).fetchone()[0]
            if not self.agents:
                busy = db.execute("SELECT id FROM agents WHERE name = ?", (self.busy_agent,)
                                  ).fetchone()[0]
                self.agents = [(os.urandom(16).hex(), f"filler-agent-{i}") for i in range(1, 20)]
                db.executemany("INSERT INTO agents (id, workspace_id, name, daily_budget,"
                               " credential_version, created_at) VALUES (?, ?, ?, NULL, 1, ?)",
                               [(a, workspace_id, name, now - 40 * DAY_MS)
                                for a, name in self.agents])
                self.agents.insert(0, (busy, self.busy_agent))
            self._add_sessions(db, workspace_id, sessions - self.made_sessions, now, audit)
            self._add_entries(db, workspace_id, entries - self.made_entries, now, audit)
            audit.flush()
        return time.perf_counter() - t0

    def _add_sessions(self, db: sqlite3.Connection, ws: str, n: int, now: int,
                      audit: _AuditTail) -> None:
        rng = self.rng
        rows, creds = [], []
        for i in range(self.made_sessions, self.made_sessions + n):
            sid = os.urandom(16).hex()
            agent = self.agents[i % len(self.agents)] if i % 3 else None
            created = now - rng.randrange(30 * DAY_MS)
            state = rng.random()
            revoked = created + rng.randrange(DAY_MS) if state < 0.2 else None
            expires = (now - rng.randrange(1, DAY_MS) if 0.2 <= state < 0.4
                       else now + rng.randrange(DAY_MS, 60 * DAY_MS))
            address = Web3.to_checksum_address(os.urandom(20))
            key_hash = os.urandom(32).hex()
            chains = [PRIMARY_CHAIN] if i % 2 else [PRIMARY_CHAIN, 84532]
            used = now - rng.randrange(DAY_MS) if rng.random() < 0.7 else None
            label = f"filler-{i} {WORDS[i % len(WORDS)]}"
            rows.append((
                sid, ws, "agent" if agent else "app", label,
                agent[0] if agent else None, key_hash, address, address.lower(),
                None if revoked else os.urandom(92), '["transfer"]', json.dumps(chains),
                '["ETH","USDC"]', "USD", str(50 * 10**18), str(500 * 10**18), created, expires,
                revoked, sid, 1, used, rng.randrange(1000) if used else 0))
            creds.append((os.urandom(32), ws, "session", sid, 1, created,
                          revoked))
            audit.add(created, ws, "cli:bench", "session.create", key_hash,
                      {"label": label, "chain_ids": chains, "type": "agent" if agent else "app"})
            self.sessions.append((sid, address.lower(), key_hash))
        db.executemany(
            "INSERT INTO sessions (id, workspace_id, type, label, agent_id, key_hash, address,"
            " address_lower, sealed_key, permissions, chain_ids, tokens, limit_unit,"
            " per_tx_limit, daily_limit, created_at, expires_at, revoked_at, lineage_id,"
            " credential_version, last_used_at, request_count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)", creds)
        self.made_sessions += n

    def _add_entries(self, db: sqlite3.Connection, ws: str, n: int, now: int,
                     audit: _AuditTail) -> None:
        rng = self.rng
        # Each filler session gets an equal share; its nonces continue where they stopped.
        next_nonce: dict[tuple[int, str], int] = {
            (c, a): v for c, a, v in db.execute("SELECT * FROM nonces")}
        reservations, decisions = [], []
        buckets: dict[tuple[str, int], int] = {}
        per = max(1, n // max(1, len(self.sessions)))
        made = 0
        while made < n:
            for sid, address, key_hash in self.sessions:
                for _ in range(per):
                    if made >= n:
                        break
                    at = now - rng.randrange(1, 30 * DAY_MS)
                    amount = rng.randrange(10**15, 5 * 10**18)
                    key = (PRIMARY_CHAIN, address)
                    nonce = next_nonce.get(key, 0)
                    next_nonce[key] = nonce + 1
                    released = rng.random() < 0.03
                    rid = os.urandom(16).hex()
                    tx_hash = "0x" + os.urandom(32).hex()
                    reservations.append((
                        rid, sid, sid, at // MINUTE_MS, "0" if released else str(amount),
                        "released" if released else "settled", "eth_sendTransaction",
                        PRIMARY_CHAIN, nonce, tx_hash, at, at + 2000, os.urandom(110),
                        str(10**15), str(21000 * 10**10),
                        None if released else str(21000 * 10**9),
                        None if released else 1, None if released else at + 2000))
                    decisions.append((sid, at, "eth_sendTransaction", 1, None, "", str(amount),
                                      rid))
                    if not released:
                        buckets[sid, at // MINUTE_MS] = (buckets.get((sid, at // MINUTE_MS), 0)
                                                          + amount)
                    audit.add(at, ws, "rpc", "rpc.decision", key_hash, {
                        "method": "eth_sendTransaction", "allowed": True, "reason": None,
                        "detail": "", "cost": str(amount), "figures": {}, "tx_hash": tx_hash})
                    made += 1
            if len(reservations) >= 200_000 or made >= n:
                self._write_entries(db, reservations, decisions, buckets, next_nonce)
                reservations, decisions, buckets = [], [], {}
                audit.flush()
        self.made_entries += n

    @staticmethod
    def _write_entries(db: sqlite3.Connection, reservations: list[Any],
                       decisions: list[Any], buckets: dict[tuple[str, int], int],
                       next_nonce: dict[tuple[int, str], int]) -> None:
        db.executemany(
            "INSERT INTO reservations (id, session_id, lineage_id, minute, amount, status,"
            " method, chain_id, nonce, tx_hash, created_at, updated_at, raw_tx, gas_reserved,"
            " gas_wei_reserved, gas_wei_used, receipt_status, settled_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", reservations)
        db.executemany(
            "INSERT INTO decisions (session_id, at, method, allowed, reason, detail, cost,"
            " reservation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", decisions)
        existing = dict(((lin, m), int(a)) for lin, m, a in db.execute(
            "SELECT lineage_id, minute, amount FROM spend_buckets")) if buckets else {}
        db.executemany("INSERT OR REPLACE INTO spend_buckets VALUES (?, ?, ?)",
                       [(lin, m, str(existing.get((lin, m), 0) + a))
                        for (lin, m), a in buckets.items()])
        db.executemany("INSERT OR REPLACE INTO nonces VALUES (?, ?, ?)",
                       [(c, a, v) for (c, a), v in next_nonce.items()])


class _AuditTail:
    """Chains filler entries onto the audit log's head, exactly as store/_audit.py would."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        head = db.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                          ).fetchone()
        self._seq: int = 0 if head is None else head[0]
        self._prev: bytes = GENESIS if head is None else bytes(head[1])
        self._rows: list[tuple[Any, ...]] = []

    def add(self, at: int, workspace_id: str | None, actor: str, action: str, subject: str,
            detail: dict[str, Any]) -> None:
        self._seq += 1
        text = canonical(detail)
        digest = entry_hash(self._prev, self._seq, at, workspace_id, actor, action, subject,
                            text)
        self._rows.append((self._seq, at, workspace_id, actor, action, subject, text,
                           self._prev, digest))
        self._prev = digest

    def flush(self) -> None:
        self._db.executemany("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             self._rows)
        self._rows = []


# -- measuring -----------------------------------------------------------------------------
def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p50(ms: list[float]) -> float:
    return statistics.median(ms)


def p95(ms: list[float]) -> float:
    return sorted(ms)[max(0, int(len(ms) * 0.95) - 1)]


# One keep-alive connection, as a client library holds it: the figure is the server's work.
HTTP = requests.Session()


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    answer = HTTP.post(url, json=body, headers=headers, timeout=60).json()
    if "error" in answer:
        raise RuntimeError(f"JSON-RPC error: {answer['error']}")
    return answer


def get(url: str, token: str) -> Any:
    resp = HTTP.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    resp.raise_for_status()
    return resp.json()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass(frozen=True)
class Level:
    sessions: int
    entries: int
    fill_s: float
    send_p50: float
    send_p95: float
    busy_send_p50: float
    anvil_p50: float
    listings: dict[str, float]
    cli_floor_ms: float
    cli_filtered_ms: float
    cli_all_ms: float
    cli_all_items: int
    rss_mb: float


LISTINGS = {
    "default (-created, 50)": "",
    "status=active": "status=active",
    "type=agent&sort=expiry": "type=agent&sort=expiry",
    "sort=-last_used": "sort=-last_used",
    "agent=filler-agent-3&status=active": "agent=filler-agent-3&status=active",
    "chain=84532&sort=-expiry": "chain=84532&sort=-expiry",
    "label=payroll&limit=200": "label=payroll&limit=200",
    "page 2 of status=active (cursor)": "status=active",
}


def measure(studio: Studio, session: dict[str, Any], busy: dict[str, Any], token: str,
            sessions: int,
            entries: int, fill_s: float) -> Level:
    proc = studio.start_server()
    url = studio.rpc_url()
    auth = {"Authorization": f"Bearer {session['credential']}"}
    raw = {"from": session["address"], "to": TO, "value": "0x1", "gas": "0x5208",
           "maxFeePerGas": hex(10**10), "maxPriorityFeePerGas": hex(10**9)}
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [raw]}
    timed(lambda: post(url, body, auth), 20)  # warm-up
    # Three rounds, a second apart; the p50 is the median of the rounds' p50s: one round can
    # meet a fleet snapshot refresh or another process's burst on this shared machine.
    rounds = []
    for _ in range(ROUNDS):
        rounds.append(timed(lambda: post(url, body, auth), SENDS))
        time.sleep(1)
    sends = [ms for r in rounds for ms in r]
    busy_auth = {"Authorization": f"Bearer {busy['credential']}"}
    busy_body = {**body, "params": [{**raw, "from": busy["address"]}]}
    timed(lambda: post(url, busy_body, busy_auth), 10)
    busy_sends = timed(lambda: post(url, busy_body, busy_auth), SENDS // 2)
    # The control: the same send straight to anvil, which signs for its dev account. Anvil
    # keeps its chain across levels, so a node that slows as its chain grows shows here.
    node = studio.chains[PRIMARY_CHAIN].rpc_url
    dev = post(node, {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []},
               {})["result"][0]
    anvil_body = {**body, "params": [{**raw, "from": dev}]}
    timed(lambda: post(node, anvil_body, {}), 10)
    anvil_sends = timed(lambda: post(node, anvil_body, {}), SENDS)

    api = f"http://127.0.0.1:{studio.admin_port}/api/v1/sessions"
    listings: dict[str, float] = {}
    for name, query in LISTINGS.items():
        target = f"{api}?{query}"
        if name.startswith("page 2"):
            cursor = get(target, token)["next_cursor"]
            if cursor is not None:  # None at the first level: fewer than one page
                target += "&cursor=" + urllib.parse.quote(cursor)
        get(target, token)
        listings[name] = p50(timed(lambda t=target: get(t, token), LIST_REPEATS))  # type: ignore[misc]
    rss = rss_mb(proc.pid)

    def cli(*args: str) -> Any:
        out = subprocess.run([*CLI, "sessions", "list", *args, "--json", "--config",
                              str(studio.config)], capture_output=True, text=True,
                             check=True, timeout=3600).stdout
        return json.loads(out)

    # The floor: a process that starts, opens the store and lists the one workspace.
    floor = p50(timed(lambda: subprocess.run(
        [*CLI, "workspaces", "list", "--json", "--config", str(studio.config)],
        capture_output=True, check=True, timeout=600), 3))
    cli_filtered = p50(timed(lambda: cli("--agent", "filler-agent-3", "--label", "payroll"),
                             3))
    t0 = time.perf_counter()
    everything = cli()
    cli_all = (time.perf_counter() - t0) * 1000
    rss = max(rss, rss_mb(proc.pid))
    studio.stop_servers()
    return Level(sessions, entries, fill_s, p50([p50(r) for r in rounds]), p95(sends),
                 p50(busy_sends), p50(anvil_sends),
                 listings, floor,
                 cli_filtered, cli_all, len(everything), rss)


def report(levels: list[Level], audit_ok: str) -> str:
    cols = " | ".join(f"{lv.sessions:,} / {lv.entries:,}" for lv in levels)
    sep = "|---" * (len(levels) + 1) + "|"
    rows = [f"| sessions / ledger entries | {cols} |", sep]

    def row(name: str, values: list[float], fmt: str = "{:.2f}") -> None:
        rows.append(f"| {name} | " + " | ".join(fmt.format(v) for v in values) + " |")

    row("fill time s (cumulative levels)", [lv.fill_s for lv in levels], "{:.1f}")
    row("eth_sendTransaction p50 ms", [lv.send_p50 for lv in levels])
    row("eth_sendTransaction p95 ms", [lv.send_p95 for lv in levels])
    row("control: eth_sendTransaction straight to anvil (anvil signs) p50 ms",
        [lv.anvil_p50 for lv in levels])
    row("eth_sendTransaction p50 ms, credential of an agent holding 1 in 30 sessions",
        [lv.busy_send_p50 for lv in levels])
    for name in LISTINGS:
        row(f"GET /api/v1/sessions {name} p50 ms", [lv.listings[name] for lv in levels])
    row("CLI workspaces list --json ms (process floor)", [lv.cli_floor_ms for lv in levels],
        "{:.0f}")
    row("CLI sessions list --agent --label --json ms", [lv.cli_filtered_ms for lv in levels],
        "{:.0f}")
    row("CLI sessions list --json (everything) ms", [lv.cli_all_ms for lv in levels], "{:.0f}")
    row("  items printed", [lv.cli_all_items for lv in levels], "{:,.0f}")
    row("serve RSS MB (VmRSS)", [lv.rss_mb for lv in levels], "{:.0f}")
    base, top = levels[0], levels[-1]
    rows += ["", f"Send p50 at the top level vs the bottom: {top.send_p50 / base.send_p50:.2f}x "
             f"(target <= 1.20x; the anvil control moved {top.anvil_p50 / base.anvil_p50:.2f}x "
             f"as its chain grew). Slowest listing at the top: "
             f"{max(top.listings.values()):.1f} ms (target <= 50). RSS at the top: "
             f"{top.rss_mb:.0f} MB (target <= 200). `audit verify` after the run: {audit_ok}."]
    return "\n".join(rows)


def main() -> None:
    levels: list[Level] = []
    with tempfile.TemporaryDirectory() as tmp:
        studio = start_studio(Path(tmp), chain_ids=(PRIMARY_CHAIN,))
        try:
            session = studio.create_session(per_tx="1000000", daily="100000000000")
            # An agent that gets 1 in 30 of the filler sessions (its rotation history, say):
            # its credential's sends read all of them (proxy/_sessions.py picks by address).
            busy = studio.create_session(per_tx="1000000", daily="100000000000")
            token = studio.cli("tokens", "create", "--scope", "sessions:read",
                               "--name", "bench")["token"]
            filler = Filler(studio.home / "studio.db", random.Random(13), [], [],
                            busy["agent"])
            for sessions, entries in LEVELS:
                # The two measured sessions count as sessions: fill the rest.
                fill_s = filler.fill(max(0, sessions - 2), entries)
                print(f"filled to {sessions} sessions / {entries} entries in {fill_s:.1f} s",
                      file=sys.stderr, flush=True)
                levels.append(measure(studio, session, busy, token, sessions, entries,
                                      fill_s))
                print(levels[-1], file=sys.stderr, flush=True)
            verify = studio.cli_raw("audit", "verify")
            audit_ok = "ok" if verify.returncode == 0 else f"FAILED: {verify.stdout[-200:]}"
        finally:
            # Not stop_studio: it would unseal every session key, and filler keys are random.
            studio.stop_servers()
            for node in studio.chains.values():
                node.stop()
    table = report(levels, audit_ok)
    print(table)
    out = Path(OUT) if OUT else HERE / "results" / ("scale-quick.md" if QUICK else "scale.md")
    out.write_text(
        "# Scale: one serve on SQLite as the database grows (issue 13, \"Scale\")\n\n"
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}. "
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
        "\n\nMethod: bench/scale.py (docstring). One `serve` (default settings) on SQLite and "
        f"one anvil (automine); {ROUNDS} rounds of {SENDS} sequential raw eth_sendTransaction from "
        "one session (gas and fees given, nonce by the sidecar) after 20 warm-up sends, p50 "
        "the median of the rounds' p50s, p95 over all; each listing "
        f"repeated {LIST_REPEATS} times sequentially (p50); CLI runs are whole processes "
        "(interpreter start included). RSS is VmRSS of serve after the listings and the CLI "
        "runs.\n\n" + table + "\n")


if __name__ == "__main__":
    main()
