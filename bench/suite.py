"""`make bench`: every performance figure of issue 13 in one run, and where each target stands.

Runs, in one process tree on this machine: reads and sends under wrk against anvil straight,
the minimal aiohttp pass-through and the sidecar (bench/throughput.py, with py-spy profiles of
the sidecar); the signing path alone on SQLite and PostgreSQL (bench/signing_path.py); the
scale run, 10 to 1,000,000 ledger entries and up to 100,000 sessions (bench/scale.py). Writes
bench/results/performance.md: machine, date, load, the targets table, every figure, and the
profiles that show where the time goes.

`--quick` shortens every run (a smoke test of the bench itself, not figures to publish).
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import pg_cluster as cluster_module
import signing_path
import throughput
from session_studio.store import PostgresStore, SqliteStore

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "performance.md"


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    anvil = subprocess.run(["npx", "--no-install", "anvil", "--version"], capture_output=True,
                           text=True, cwd=HERE.parent, check=False).stdout.strip().splitlines()
    return ", ".join(part for part in (
        f"{os.cpu_count()} cores", model, f"Python {platform.python_version()}",
        anvil[0] if anvil else "") if part)


def _signing(quick: bool) -> list[signing_path.Row]:
    """On one core, as issue 13 states the target (bench/signing_path.py pins the same way)."""
    ops, batch = (500, 100) if quick else (5000, 500)
    rows: list[signing_path.Row] = []
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        rows = _signing_rows(ops, batch)
    finally:
        os.sched_setaffinity(0, cores)
    return rows


def _signing_rows(ops: int, batch: int) -> list[signing_path.Row]:
    rows: list[signing_path.Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += asyncio.run(signing_path.run_backend(
            "SQLite", SqliteStore(Path(tmp) / "studio.db"), ops, batch))
    cluster = cluster_module.PgCluster().start()
    try:
        url = cluster.create_database("bench")
        rows += asyncio.run(signing_path.run_backend("PostgreSQL", PostgresStore(url), ops,
                                                     batch))
    finally:
        cluster.stop()
    return rows


def _ratio(results: dict[tuple[str, int], throughput.Run], name: str, base: str,
           connections: int) -> float:
    return results[(name, connections)].per_second / results[(base, connections)].per_second


def _added_p50(results: dict[tuple[str, int], throughput.Run], name: str, base: str,
               connections: int) -> float:
    return results[(name, connections)].p50_ms - results[(base, connections)].p50_ms


def targets(measured: throughput.Measured, signing: list[signing_path.Row]) -> list[Target]:
    reads, sends = measured.reads, measured.sends
    read_ratio = _ratio(reads, "sidecar", "anvil straight", 32)
    read_added = _added_p50(reads, "sidecar", "anvil straight", 1)
    floor_cost = 1 - _ratio(reads, "sidecar", "aiohttp pass-through + uvloop", 32)
    send_ratios = {c: _ratio(sends, "sidecar signs", "anvil signs", c)
                   for c in throughput.SEND_CONCURRENCY}
    send_added = _added_p50(sends, "sidecar signs", "anvil signs", 1)
    sqlite = [r for r in signing if r.backend == "SQLite"]
    postgres = [r for r in signing if r.backend == "PostgreSQL"]
    sqlite_rate = min(r.per_second for r in sqlite)
    return [
        Target("reads, concurrency 32", ">= 0.70x anvil straight", f"{read_ratio:.2f}x",
               read_ratio >= 0.70),
        Target("reads, concurrency 1", "added p50 <= 0.15 ms", f"{read_added:+.3f} ms",
               read_added <= 0.15),
        Target("reads: auth + policy against the floor", "<= 10% of the pass-through's "
               "throughput (both on uvloop), concurrency 32", f"{100 * floor_cost:.0f}%",
               floor_cost <= 0.10),
        *(Target(f"sends, concurrency {c}", ">= 0.50x anvil signing", f"{ratio:.2f}x",
                 ratio >= 0.50) for c, ratio in send_ratios.items()),
        Target("sends, concurrency 1", "added p50 <= 1 ms", f"{send_added:+.2f} ms",
               send_added <= 1.0),
        Target("signing path (decide + reserve + sign), SQLite, one core", ">= 3,000 / s",
               f"{sqlite_rate:,.0f} / s (slower scenario)", sqlite_rate >= 3000),
        Target("signing path, PostgreSQL", "report",
               f"{min(r.per_second for r in postgres):,.0f} / s", True),
    ]


def render(measured: throughput.Measured, signing: list[signing_path.Row],
           scale: str | None, *, started: str, load: tuple[float, float]) -> str:
    rows = ["| target | goal | measured | met |", "|---|---|---|---|"]
    rows += [f"| {t.name} | {t.goal} | {t.measured} | {'yes' if t.met else '**no**'} |"
             for t in targets(measured, signing)]
    parts = [
        "# Performance (issue 13)",
        "",
        f"`make bench` (`bench/suite.py`), {started} UTC. Machine: {_machine()}. Load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (a shared machine moves every "
        "figure; ratios taken in one run are the steadier ones).",
        "",
        "## Targets",
        "",
        *rows,
        "",
        "## Reads and sends under wrk (bench/throughput.py)",
        "",
        throughput.render(measured.reads, measured.sends, seconds=measured.seconds,
                          repeats=measured.repeats),
        "",
        "## Signing path alone (bench/signing_path.py)",
        "",
        signing_path.table(signing),
    ]
    if scale is not None:
        parts += ["", "## Scale (bench/scale.py)", "", scale]
    for name, summary in measured.profiles.items():
        parts += ["", f"## Profile: {name}", "",
                  "py-spy on the sidecar's process, every thread, 500 Hz for 7 s under the same "
                  "load; inclusive = on the stack, self = at its top.", "", summary]
    return "\n".join(parts) + "\n"


def _scale(quick: bool) -> str | None:
    """bench/scale.py's Markdown, if that bench is here (it takes minutes at full size)."""
    if not (HERE / "scale.py").exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        # --out: its own results file (bench/results/scale.md, with its notes) stays as it is.
        args = [sys.executable, str(HERE / "scale.py"), *(["--quick"] if quick else []),
                "--out", str(Path(tmp) / "scale.md")]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/scale.py failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def main() -> None:
    quick = "--quick" in sys.argv
    started = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    load_start = os.getloadavg()[0]
    measured = throughput.measure(quick=quick, profile=True)
    signing = _signing(quick)
    scale = _scale(quick)
    text = render(measured, signing, scale, started=started,
                  load=(load_start, os.getloadavg()[0]))
    print(text)
    if not quick:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
