"""Signed-send throughput of 1, 2 and 3 `serve` replicas on one PostgreSQL ledger, against one
`serve` on SQLite: raw JSON-RPC `eth_sendTransaction` from many concurrent clients, for many
sessions (each its own signer) and for one hot session, in one run. Prints a markdown table.

Each configuration gets CLIENTS concurrent keep-alive clients (one asyncio process), client i
on replica i % n; each sends ETH transfers with fees given for WARMUP_S, then is counted for
MEASURE_S. To name the bottleneck, the run also records the CPU seconds each process group used
during the measured window (from /proc: the replicas, PostgreSQL's backends, anvil, this
client) and samples PostgreSQL's wait events (pg_stat_activity) every 20 ms.

Everything is real: anvil automining, a throwaway PostgreSQL cluster (tests/pg_cluster.py),
`serve` as the user runs it. Run: `make bench-replicas`.
"""

from __future__ import annotations

import asyncio
import collections
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

# The e2e harness and the test cluster, importable as pytest sees them (tests/ on the path).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import pg_cluster as cluster_module
from e2e.harness import PRIMARY_CHAIN, Studio, start_studio, stop_studio

CLIENTS = 32
SESSIONS = 30
WARMUP_S = 2.0
MEASURE_S = 8.0
TICKS = os.sysconf("SC_CLK_TCK")
# store/_pg_base.py `Lock`: the advisory lock classes (pg_locks.classid) a backend can wait on.
LOCK_CLASSES = {1: "LINEAGE", 2: "AGENT", 3: "SIGNER", 4: "AUDIT"}
TX = {"to": "0x000000000000000000000000000000000000bEEF", "value": "0x1", "gas": hex(21_000),
      "maxFeePerGas": hex(2 * 10**9), "maxPriorityFeePerGas": hex(10**9)}


@dataclass
class Result:
    config: str
    scenario: str
    sent: int
    errors: collections.Counter[str]
    latencies_ms: list[float]
    cpu_s: dict[str, float]
    waits: collections.Counter[str] = field(default_factory=collections.Counter)
    lock_waits: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def per_second(self) -> float:
        return self.sent / MEASURE_S


# -- load ---------------------------------------------------------------------------------------
async def _client(http: aiohttp.ClientSession, url: str, credential: str, address: str,
                  phase: dict[str, bool], result: Result) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction",
            "params": [{**TX, "from": address}]}
    headers = {"Authorization": f"Bearer {credential}"}
    while not phase["done"]:
        started = time.perf_counter()
        async with http.post(url, json=body, headers=headers) as answer:
            payload: dict[str, Any] = await answer.json(content_type=None)
        counted = phase["measuring"]
        if not counted:
            continue
        if "result" in payload:
            result.sent += 1
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            error = payload.get("error", {})
            result.errors[f"{error.get('code')} {(error.get('data') or {}).get('reason')}"] += 1


async def _load(ports: list[int], sessions: list[dict[str, Any]], result: Result,
                measure: Any) -> None:
    phase = {"measuring": False, "done": False}
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        tasks = []
        for i in range(CLIENTS):
            session = sessions[i % len(sessions)]
            url = f"http://127.0.0.1:{ports[i % len(ports)]}/rpc/{PRIMARY_CHAIN}"
            tasks.append(asyncio.create_task(_client(
                http, url, session["credential"], session["address"], phase, result)))
        await asyncio.sleep(WARMUP_S)
        with measure():
            phase["measuring"] = True
            await asyncio.sleep(MEASURE_S)
            phase["measuring"] = False
        phase["done"] = True
        await asyncio.gather(*tasks)


# -- measuring ----------------------------------------------------------------------------------
def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


@dataclass
class Processes:
    """The pids of each group whose CPU time a measurement reports."""

    studio: Studio
    cluster: cluster_module.PgCluster | None

    def groups(self) -> dict[str, list[int]]:
        anvil = getattr(self.studio.chains[PRIMARY_CHAIN], "_process", None)
        groups = {"serve": [p.pid for p in self.studio.servers if p.poll() is None],
                  "anvil": [anvil.pid] if anvil is not None else [],
                  "client": [os.getpid()]}
        if self.cluster is not None:
            postmaster = int((self.cluster.data / "postmaster.pid").read_text().split()[0])
            groups["postgres"] = [postmaster, *_children(postmaster)]
        return groups


@contextmanager
def _measured(processes: Processes, result: Result, database_url: str | None) -> Iterator[None]:
    before = {name: {pid: _cpu_ticks(pid) for pid in pids}
              for name, pids in processes.groups().items()}
    stop = threading.Event()

    def sample_waits() -> None:
        assert database_url is not None
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                for kind, event in conn.execute(
                        "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, 'running')"
                        " FROM pg_stat_activity WHERE state = 'active'"
                        " AND pid <> pg_backend_pid() AND datname = current_database()"):
                    result.waits[f"{kind}:{event}"] += 1
                for (kind,) in conn.execute(
                        "SELECT l.classid FROM pg_locks l JOIN pg_database d ON d.oid ="
                        " l.database WHERE l.locktype = 'advisory' AND NOT l.granted"
                        " AND d.datname = current_database()"):
                    result.lock_waits[LOCK_CLASSES.get(int(kind), str(kind))] += 1
                time.sleep(0.02)

    sampler = threading.Thread(target=sample_waits, daemon=True)
    if database_url is not None:
        sampler.start()
    try:
        yield
    finally:
        stop.set()
        if database_url is not None:
            sampler.join()
        after = processes.groups()  # backends that started during the window count from 0
        for name, pids in after.items():
            ticks = sum(_cpu_ticks(pid) - before.get(name, {}).get(pid, 0) for pid in pids)
            result.cpu_s[name] = ticks / TICKS


def _run(config: str, scenario: str, ports: list[int], sessions: list[dict[str, Any]],
         processes: Processes, database_url: str | None) -> Result:
    result = Result(config=config, scenario=scenario, sent=0, errors=collections.Counter(),
                    latencies_ms=[], cpu_s={})
    asyncio.run(_load(ports, sessions, result,
                      lambda: _measured(processes, result, database_url)))
    print(f"  {config} / {scenario}: {result.per_second:.0f}/s, errors {dict(result.errors)}",
          file=sys.stderr)
    return result


def _sessions(studio: Studio, count: int) -> list[dict[str, Any]]:
    made = [studio.create_session(per_tx="1000000", daily="1000000000", tokens="ETH",
                                  fund=False) for _ in range(count)]
    for session in made:
        studio.fund(session["address"], eth=100, usdc=0)
    return made


def _measure_studio(studio: Studio, label: str, replicas: list[int],
                    cluster: cluster_module.PgCluster | None) -> list[Result]:
    """For each replica count in `replicas`, both scenarios on fresh sessions."""
    processes = Processes(studio=studio, cluster=cluster)
    # Every session is made and funded before any load: funding through an anvil that has
    # just mined thousands of blocks under load once timed out.
    fresh = {count: (_sessions(studio, SESSIONS), _sessions(studio, 1)) for count in replicas}
    studio.start_server()
    ports = [studio.rpc_port]
    results = []
    for count in replicas:
        while len(ports) < count:
            ports.append(studio.start_replica()[0])
        config = f"{count} x {label}"
        many, hot = fresh[count]
        results.append(_run(config, f"{SESSIONS} sessions", ports, many, processes,
                            studio.database_url))
        results.append(_run(config, "1 hot session", ports, hot, processes,
                            studio.database_url))
    return results


def _table(results: list[Result]) -> str:
    rows = ["| replicas | scenario | sends/s | median ms | p95 ms | errors |"
            " CPU s serve / postgres / anvil / client (of " + f"{MEASURE_S:.0f} s wall) |",
            "|---|---|---|---|---|---|---|"]
    for r in results:
        lat = sorted(r.latencies_ms) or [0.0]
        cpu = " / ".join(f"{r.cpu_s.get(k, 0.0):.1f}" if k in r.cpu_s else "-"
                         for k in ("serve", "postgres", "anvil", "client"))
        errors = ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "0"
        rows.append(f"| {r.config} | {r.scenario} | {r.per_second:.0f} |"
                    f" {statistics.median(lat):.1f} | {lat[int(len(lat) * 0.95) - 1]:.1f} |"
                    f" {errors} | {cpu} |")
    return "\n".join(rows)


def _waits(results: list[Result]) -> str:
    rows = ["| replicas | scenario | top PostgreSQL wait events of active backends (samples) |"
            " advisory locks waited for, by class (samples) |",
            "|---|---|---|---|"]
    for r in results:
        if r.waits:
            total = sum(r.waits.values())
            top = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in r.waits.most_common(4))
            locks = ", ".join(f"{k} {v}" for k, v in r.lock_waits.most_common()) or "none"
            rows.append(f"| {r.config} | {r.scenario} | {top} ({total}) | {locks} |")
    return "\n".join(rows)


def main() -> None:
    results: list[Result] = []
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sqlite").mkdir()
        sqlite = start_studio(Path(tmp) / "sqlite", chain_ids=(PRIMARY_CHAIN,))
        try:
            results += _measure_studio(sqlite, "SQLite", [1], None)
        finally:
            stop_studio(sqlite)
        cluster = cluster_module.PgCluster().start()
        try:
            _, url = cluster.empty_database()
            (Path(tmp) / "pg").mkdir()
            pg = start_studio(Path(tmp) / "pg", database_url=url, chain_ids=(PRIMARY_CHAIN,))
            try:
                results += _measure_studio(pg, "PostgreSQL", [1, 2, 3], cluster)
            finally:
                stop_studio(pg)
        finally:
            cluster.stop()
    print(_table(results))
    print()
    print(_waits(results))
    print(f"\n{os.cpu_count()} CPUs, load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
