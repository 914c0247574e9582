"""The signing path alone: decide + reserve + sign an ETH transfer, no HTTP, no node.

Drives `session_studio.proxy._pipeline.reserve_and_sign`, the step every RPC signing method ends
in, with the `SigningRequest` that `_transactions.handle_transaction` builds for an
eth_sendTransaction whose gas and fees the client gave (decode, price, the engine's `decide`,
the exact fields signed at the ledger's nonce). One level below `sign_with_policy` on purpose:
that function broadcasts, which needs a node; everything before the broadcast is here.

Real components: the real `LocalKeystore` (keys generated and sealed by it, unsealed from the
cache as in steady state), a real SQLite file (`SqliteStore`) and a real PostgreSQL database on
a throwaway cluster (tests/pg_cluster.py). Requests are sequential, in one process pinned to
core 0 (the PostgreSQL server runs wherever the kernel puts it). Two scenarios per backend:
SESSIONS sessions taken in turn, and one hot session taking every request.

Run: `make bench-signing` (writes nothing) or `.venv/bin/python bench/signing_path.py --write`
(also writes bench/results/signing_path.md); `--profile` adds a py-spy summary of the SQLite
runs (bench/flame_summary.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from session_studio.keystore import KeyContext, LocalKeystore, MasterKey
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
from session_studio.proxy import Caller, ChainRuntime, RpcPlaneDeps
from session_studio.proxy._fees import FeeCache
from session_studio.proxy._params import TransactionParams
from session_studio.proxy._pipeline import SigningRequest, Transaction, reserve_and_sign
from session_studio.proxy._transactions import _to_eth_account
from session_studio.proxy._upstream import Upstream
from session_studio.store import (
    CredentialOwner,
    NonceRequest,
    PostgresStore,
    Session,
    SessionType,
    SqliteStore,
    Store,
    new_id,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_cluster as cluster_module
from flame_summary import summarise

CHAIN_ID = 31337
ETHER = 10**18
SESSIONS = 100
RECIPIENT = "0x000000000000000000000000000000000000beef"
_ETH = Asset(chain_id=CHAIN_ID, symbol="ETH", decimals=18)
ASSETS = ChainAssets(chain_id=CHAIN_ID, native=_ETH, tokens={})
PRICES = PriceBook({(CHAIN_ID, "ETH"): Fraction(3000)})
RESULTS = Path(__file__).resolve().parent / "results" / "signing_path.md"
LATEST_RUN = "<!-- latest run: written by bench/signing_path.py --write -->"


class NoUpstream(Upstream):
    """The chain's upstream: never called on this path (asserted by raising)."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/never-called", timeout_s=1.0, chain_id=CHAIN_ID)

    async def call(self, method: str, params: list[Any]) -> Any:
        raise AssertionError(f"the signing path asked the node for {method}")


class StaticPrices:
    async def price_book(self, chain_id: int) -> PriceBook:
        return PRICES


@dataclass(frozen=True)
class Row:
    backend: str
    scenario: str
    ops: int
    seconds: float
    cpu_seconds: float  # this process, every thread (the PostgreSQL server's is not in it)
    batches_us: list[float]

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds

    def markdown(self) -> str:
        median = statistics.median(self.batches_us)
        spread = f"{min(self.batches_us):.0f}-{max(self.batches_us):.0f}"
        cpu = self.cpu_seconds / self.ops * 1e6
        return (f"| {self.backend} | {self.scenario} | {self.ops} | {self.per_second:,.0f} | "
                f"{median:.0f} | {spread} | {cpu:.0f} |")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Bench:
    """One store, one keystore, SESSIONS sessions with real sealed keys; `sign_one` is one op."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keystore = LocalKeystore(MasterKey(os.urandom(32)))
        upstream = NoUpstream()
        self.chain = ChainRuntime(chain_id=CHAIN_ID, assets=ASSETS, upstream=upstream,
                                  fees=FeeCache(upstream), max_fee_per_gas=None)
        self.deps = RpcPlaneDeps(
            store=store, keystore=self.keystore, chains={CHAIN_ID: self.chain},
            prices=StaticPrices(), clock=_now_ms, window_mode="rolling_24h",
            max_outstanding_signed=4, max_body_bytes=1 << 20, max_batch_size=10,
            allow_raw_transactions=False)
        self.sessions: list[Session] = []

    async def add_sessions(self, count: int) -> None:
        now = _now_ms()
        workspace = await self.store.create_workspace("bench", now_ms=now)
        for _ in range(count):
            session_id = new_id()
            key = self.keystore.generate(KeyContext(workspace_id=workspace.id,
                                                    session_id=session_id))
            session = Session(
                id=session_id, workspace_id=workspace.id, type=SessionType.APP, label="bench",
                agent_id=None, agent_name=None, key_hash=key.key_hash, address=key.address,
                permissions=(Permission.TRANSFER,), chain_ids=(CHAIN_ID,), tokens=("ETH",),
                limit_unit="ETH", per_tx_limit=ETHER, daily_limit=10**9 * ETHER,
                created_at_ms=now, expires_at_ms=now + 86_400_000, revoked_at_ms=None,
                lineage_id=session_id, predecessor_id=None, credential_version=1)
            await self.store.insert_session(
                session, sealed_key=key.sealed, credential_hash=os.urandom(32))
            self.sessions.append(session)

    async def sign_one(self, session: Session) -> None:
        """What handle_transaction does after the fill, for a transfer with gas and fees."""
        params = TransactionParams(
            sender=session.address.lower(), to=RECIPIENT, value=10**12, data=b"", gas=21_000,
            gas_price=None, max_fee_per_gas=2 * 10**9, max_priority_fee_per_gas=10**9,
            nonce=None, chain_id=None, tx_type=None, access_list=None,
            has_authorization_list=False)
        request = TransactionRequest(
            chain_id=CHAIN_ID, declared_chain_id=None, sender=params.sender or "",
            to=params.to, value=params.value, data=params.data, gas=21_000,
            max_fee_per_gas=2 * 10**9, tx_type=2, has_authorization_list=False)
        decoded = decode_transaction(request, ASSETS)
        prices = await self.deps.prices.price_book(CHAIN_ID)
        policy = session.policy()

        def decide(state: SessionState, now_ms: int) -> Decision:
            return evaluate_transaction(policy=policy, state=state, tx=request, decoded=decoded,
                                        prices=prices, now_ms=now_ms,
                                        chain_max_fee_per_gas=None, max_outstanding_signed=None)

        caller = Caller(owner=CredentialOwner(workspace_id=session.workspace_id, kind="session",
                                              owner_id=session.id),
                        sessions=(session,), chain=self.chain, chain_id=CHAIN_ID,
                        request_id="bench")
        await reserve_and_sign(self.deps, caller, SigningRequest(
            method="eth_sendTransaction", session=session, decide=decide,
            payload=Transaction(
                chain=self.chain, fields=lambda nonce: _to_eth_account(request, params, nonce),
                nonce=NonceRequest(chain_id=CHAIN_ID, address=session.address,
                                   upstream_pending=0, explicit=None),
                gas_wei=request.worst_case_gas_cost, broadcast=True)))


async def _measure(bench: Bench, pick: Callable[[int], Session], ops: int,
                   batch: int) -> tuple[float, float, list[float]]:
    for i in range(min(200, ops)):  # warm-up: caches, prepared statements, the pool
        await bench.sign_one(pick(i))
    batches: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for first in range(0, ops, batch):
        t0 = time.perf_counter()
        for i in range(first, min(ops, first + batch)):
            await bench.sign_one(pick(i))
        batches.append((time.perf_counter() - t0) / (min(ops, first + batch) - first) * 1e6)
    return time.perf_counter() - started, time.process_time() - cpu_started, batches


async def run_backend(name: str, store: Store, ops: int, batch: int) -> list[Row]:
    await store.open()
    try:
        bench = Bench(store)
        await bench.add_sessions(SESSIONS + 1)
        many, hot = bench.sessions[:SESSIONS], bench.sessions[SESSIONS]
        rows = []
        seconds, cpu, batches = await _measure(bench, lambda i: many[i % SESSIONS], ops, batch)
        rows.append(Row(name, f"{SESSIONS} sessions in turn", ops, seconds, cpu, batches))
        seconds, cpu, batches = await _measure(bench, lambda i: hot, ops, batch)
        rows.append(Row(name, "one hot session", ops, seconds, cpu, batches))
        return rows
    finally:
        await store.close()


def table(rows: list[Row]) -> str:
    head = ("| backend | scenario | ops | per second | us/op (median of batches) |"
            " us/op range | CPU us/op (client) |\n|---|---|---|---|---|---|---|")
    return "\n".join([head, *(row.markdown() for row in rows)])


def _profile(ops: int) -> str:
    """py-spy over the SQLite scenarios in a child process: every thread, so the writer
    thread's transaction is in it (pyinstrument samples only the event loop's thread)."""
    with tempfile.TemporaryDirectory() as tmp:
        stacks = Path(tmp) / "stacks.txt"
        subprocess.run([str(Path(sys.executable).with_name("py-spy")), "record", "-r", "500",
                        "-f", "raw", "-o", str(stacks), "--", sys.executable, __file__,
                        "--backends", "sqlite", "--ops", str(ops)],
                       check=True, capture_output=True)
        summary = summarise(stacks, ["_measure", "_run_transaction"], 30)
    return (f"\n### Profile (py-spy, SQLite, both scenarios, 500 Hz, every thread)\n\n"
            f"Samples inside the measured loop or a ledger transaction; inclusive = on the"
            f" stack, self = at the top (C calls such as SQLite's count to their Python"
            f" caller, and py-spy counts a thread blocked in fdatasync as busy).\n\n"
            f"{summary}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=5000, help="measured ops per scenario")
    parser.add_argument("--batch", type=int, default=500, help="ops per timed batch")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--profile", action="store_true",
                        help="pyinstrument over the SQLite many-sessions scenario")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args()
    pinned = "not pinned"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # as `taskset -c 0`: the measured client on one core
        pinned = "client pinned to core 0"
    rows: list[Row] = []
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            rows += asyncio.run(run_backend("SQLite", SqliteStore(Path(tmp) / "studio.db"),
                                            args.ops, args.batch))
    if "postgres" in backends:
        cluster = cluster_module.PgCluster().start()
        try:
            url = cluster.create_database("bench")
            rows += asyncio.run(run_backend("PostgreSQL", PostgresStore(url), args.ops,
                                            args.batch))
        finally:
            cluster.stop()
    result = table(rows)
    print(result)
    profile = _profile(args.ops) if args.profile else ""
    print(profile)
    if args.write:
        machine = ", ".join(part for part in (
            platform.node(), f"{os.cpu_count()} cores", platform.processor(),
            f"Python {platform.python_version()}", pinned) if part)
        # The notes above the marker (history, before/after, analysis) are kept; the latest
        # run below it is replaced.
        kept = RESULTS.read_text().split(LATEST_RUN)[0] if RESULTS.exists() else ""
        RESULTS.write_text(
            f"{kept or '# Signing path: decide + reserve + sign' + chr(10) + chr(10)}"
            f"{LATEST_RUN}\n## Latest run\n\n"
            f"`bench/signing_path.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine},"
            f" load average {os.getloadavg()[0]:.1f} at the end (a shared machine moves the"
            f" wall figures; the CPU column is steadier).\n"
            f"{args.ops} sequential ops per row after 200 warm-up ops.\n\n{result}\n{profile}")


if __name__ == "__main__":
    main()
