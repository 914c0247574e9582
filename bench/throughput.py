"""Read throughput and latency: anvil straight, the minimal pass-through (the floor), and the
sidecar, under `wrk` at concurrency 1 and 32, in one run (issue 13, "Reads").

`wrk` (Debian package `wrk`, installed by `make bench`) is the load generator: compiled, so
it is not the bottleneck (one thread). With `--pin` it is pinned to the last core and every
server to the others (`taskset`); by default nothing is pinned, as in issue 13's own figures
(on 2 cores, pinning puts anvil and the proxy under test on one core, which measures the
sharing more than the proxy). Each row is the median of `repeats` runs after a warm-up.

Run: `make bench` (all benches) or `.venv/bin/python bench/throughput.py [--quick]`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from e2e.harness import start_studio, stop_studio  # noqa: E402

HERE = Path(__file__).resolve().parent
READ = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
CONCURRENCY = (1, 32)


@dataclass(frozen=True)
class Run:
    per_second: float
    p50_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cores() -> tuple[str, str]:
    """(servers' cores, the generator's core) for taskset; all cores for both on one core."""
    n = os.cpu_count() or 1
    if n < 2:
        return "0", "0"
    return f"0-{n - 2}" if n > 2 else "0", str(n - 1)


PIN = "--pin" in sys.argv


def pin(pid: int, cpus: str) -> None:
    if PIN and shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=False,
                       capture_output=True)


def wrk_script(directory: Path, body: dict[str, object], headers: dict[str, str]) -> Path:
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path = directory / f"wrk-{len(list(directory.glob('wrk-*')))}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, script: Path, *, connections: int, seconds: float) -> Run:
    _, generator_core = cores()
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
               str(script), url]
    if PIN and shutil.which("taskset"):
        command = ["taskset", "-c", generator_core, *command]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed against {url}: {done.stdout}{done.stderr}")
    out = done.stdout
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    return Run(per_second=per_second,
               p50_ms=float(p50.group(1)) * _UNITS[p50.group(2)])  # type: ignore[union-attr]


def median_run(url: str, script: Path, *, connections: int, seconds: float,
               repeats: int) -> Run:
    wrk(url, script, connections=connections, seconds=1)  # warm-up
    runs = [wrk(url, script, connections=connections, seconds=seconds) for _ in range(repeats)]
    return Run(per_second=statistics.median(r.per_second for r in runs),
               p50_ms=statistics.median(r.p50_ms for r in runs))


def main() -> None:
    quick = "--quick" in sys.argv
    seconds, repeats = (2, 1) if quick else (5, 3)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run `make bench` (it installs the Debian package)")
    server_cores, _ = cores()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        studio = start_studio(home)
        floors: list[subprocess.Popen[bytes]] = []
        try:
            studio.start_server()
            session = studio.create_session(per_tx="1000", daily="100000")
            anvil = studio.chains[min(studio.chains)]
            anvil_url = anvil.rpc_url
            for proc in studio.servers:
                pin(proc.pid, server_cores)
            if anvil.pid is not None:
                pin(anvil.pid, server_cores)
            floor_port, floor_uv_port = free_port(), free_port()
            for port, extra in ((floor_port, []), (floor_uv_port, ["--uvloop"])):
                floor = subprocess.Popen([sys.executable, str(HERE / "passthrough.py"), str(port),
                                          anvil_url, *extra])
                floors.append(floor)
                pin(floor.pid, server_cores)
            time.sleep(1.0)
            plain = wrk_script(home, READ, {})
            authed = wrk_script(home, READ, {"Authorization": f"Bearer {session['credential']}"})
            targets = [
                ("anvil straight", anvil_url, plain),
                ("aiohttp pass-through (floor)", f"http://127.0.0.1:{floor_port}/", plain),
                ("aiohttp pass-through + uvloop", f"http://127.0.0.1:{floor_uv_port}/", plain),
                ("sidecar", studio.rpc_url(), authed),
            ]
            results: dict[tuple[str, int], Run] = {}
            for connections in CONCURRENCY:
                for name, url, script in targets:
                    results[(name, connections)] = median_run(
                        url, script, connections=connections, seconds=seconds, repeats=repeats)
        finally:
            for floor in floors:
                floor.terminate()
                floor.wait(timeout=10)
            stop_studio(studio)
    print(render(results, seconds=seconds, repeats=repeats))


def render(results: dict[tuple[str, int], Run], *, seconds: float, repeats: int) -> str:
    rows = ["| `eth_blockNumber` | concurrency | per second | p50 ms | x anvil | added p50 ms |",
            "|---|---|---|---|---|---|"]
    for (name, connections), run in results.items():
        base = results[("anvil straight", connections)]
        rows.append(f"| {name} | {connections} | {run.per_second:,.0f} | {run.p50_ms:.3f} | "
                    f"{run.per_second / base.per_second:.2f} | "
                    f"{run.p50_ms - base.p50_ms:+.3f} |")
    head = (f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, wrk -t1, {seconds} s per run, "
            f"median of {repeats}; "
            + (f"servers on cores {cores()[0]}, wrk on core {cores()[1]}." if PIN
               else "nothing pinned."))
    return head + "\n\n" + "\n".join(rows)


if __name__ == "__main__":
    main()
