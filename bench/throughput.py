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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e.harness import start_studio, stop_studio
from flame_summary import summarise

HERE = Path(__file__).resolve().parent
READ = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
CONCURRENCY = (1, 32)
SEND_CONCURRENCY = (1, 16)  # 16 sessions (16 dev accounts for anvil) in parallel
SEND_SESSIONS = 16
TO = "0x000000000000000000000000000000000000bEEF"


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


def wrk(url: str, script: Path, *, connections: int, seconds: float,
        threads: int = 1) -> Run:
    _, generator_core = cores()
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
               str(script), url]
    if PIN and shutil.which("taskset"):
        command = ["taskset", "-c", generator_core, *command]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed against {url}: {done.stdout}{done.stderr}")
    out = done.stdout
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    if "Non-2xx" in out or "Socket errors" in out or "JSONRPC_ERROR" in out:
        raise SystemExit(f"wrk saw errors against {url}:\n{out}")
    return Run(per_second=per_second,
               p50_ms=float(p50.group(1)) * _UNITS[p50.group(2)])  # type: ignore[union-attr]


def interleaved(targets: list[tuple[str, str, Path, int]], *, connections: int,
                seconds: float, repeats: int) -> dict[tuple[str, int], Run]:
    """Each target's median over `repeats` runs taken in turn (a, b, a, b, ...), so both see
    the same machine and the same chain: every send grows anvil's chain by a block, and anvil
    slows as it grows, which would otherwise favour whichever target ran first."""
    runs: dict[str, list[Run]] = {name: [] for name, *_ in targets}
    for _name, url, script, threads in targets:  # warm-up
        wrk(url, script, connections=connections, seconds=1, threads=threads)
    for _ in range(repeats):
        for name, url, script, threads in targets:
            runs[name].append(wrk(url, script, connections=connections, seconds=seconds,
                                  threads=threads))
    return {(name, connections): Run(per_second=statistics.median(r.per_second for r in rs),
                                     p50_ms=statistics.median(r.p50_ms for r in rs))
            for name, rs in runs.items()}


def per_connection_script(directory: Path, requests: list[tuple[str, dict[str, object]]]) -> Path:
    """A wrk script where thread k (run with one connection per thread) always sends request k
    (path, JSON-RPC body): one sender per connection, so no two sends of one account are in
    flight at once (anvil assigns a pending nonce per call and refuses the twin). JSON-RPC
    errors (HTTP 200 with an `error` member) are printed, so a refused send cannot pass for a
    fast one."""
    paths = ", ".join(json.dumps(path) for path, _ in requests)
    bodies = ", ".join(json.dumps(json.dumps(body)) for _, body in requests)
    path = directory / f"wrk-{len(list(directory.glob('wrk-*')))}.lua"
    path.write_text(f"""local paths = {{{paths}}}
local bodies = {{{bodies}}}
local counter = 0
local shown = 0
setup = function(thread)
  counter = counter + 1
  thread:set("k", counter)
end
init = function(args)
  request_text = wrk.format("POST", paths[k], {{["Content-Type"] = "application/json"}},
                            bodies[k])
end
request = function()
  return request_text
end
response = function(status, _, body)
  if not string.find(body, '"result"', 1, true) and shown < 3 then
    shown = shown + 1
    io.write("JSONRPC_ERROR " .. body .. "\\n")
  end
end
""")
    return path


def _send(sender: str) -> dict[str, object]:
    # No gas, no fees, no nonce: both anvil and the sidecar fill them, as for a plain client.
    return {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction",
            "params": [{"from": sender, "to": TO, "value": "0x1"}]}


@dataclass
class Measured:
    reads: dict[tuple[str, int], Run]
    sends: dict[tuple[str, int], Run]
    seconds: float
    repeats: int
    profiles: dict[str, str]  # what was profiled -> Markdown summary of its top frames


def _profile(pid: int, url: str, script: Path, *, connections: int, threads: int,
             directory: Path) -> str:
    """py-spy on `pid` (every thread) while wrk drives `url`: the frames a request spends in."""
    stacks = directory / f"stacks-{pid}-{connections}.txt"
    load = subprocess.Popen(["wrk", f"-t{threads}", f"-c{connections}", "-d10s", "-s",
                             str(script), url], stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        subprocess.run([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                        str(pid), "--duration", "7", "--rate", "500", "--format", "raw",
                        "--nonblocking", "-o", str(stacks)], check=True, capture_output=True)
    finally:
        load.wait(timeout=30)
    return summarise(stacks, ["_handle_request", "_run_transaction", "_connection_worker_thread"],
                     20)


def measure(*, quick: bool = False, profile: bool = False) -> Measured:
    """Run every row in one set of processes (same anvil, same sidecar, same machine state)."""
    seconds, repeats = (2, 1) if quick else (5, 3)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run `make bench` (it installs the Debian package)")
    server_cores, _ = cores()
    reads: dict[tuple[str, int], Run] = {}
    sends: dict[tuple[str, int], Run] = {}
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        studio = start_studio(home, chain_ids=(31337,),
                              anvil_args=("--accounts", str(max(SEND_CONCURRENCY))))
        floors: list[subprocess.Popen[bytes]] = []
        try:
            studio.start_server()
            sessions = [studio.create_session(per_tx="1000", daily="100000000", tokens="ETH")
                        for _ in range(SEND_SESSIONS)]
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
            authed = wrk_script(home, READ,
                                {"Authorization": f"Bearer {sessions[0]['credential']}"})
            read_targets = [
                ("anvil straight", anvil_url, plain),
                ("aiohttp pass-through (floor)", f"http://127.0.0.1:{floor_port}/", plain),
                ("aiohttp pass-through + uvloop", f"http://127.0.0.1:{floor_uv_port}/", plain),
                ("sidecar", studio.rpc_url(), authed),
            ]
            for connections in CONCURRENCY:
                reads.update(interleaved(
                    [(name, url, script, 1) for name, url, script in read_targets],
                    connections=connections, seconds=seconds, repeats=repeats))
            dev_accounts = anvil.web3().eth.accounts
            if len(dev_accounts) < max(SEND_CONCURRENCY):
                raise SystemExit(f"anvil has {len(dev_accounts)} dev accounts, the bench needs "
                                 f"{max(SEND_CONCURRENCY)}")
            chain = min(studio.chains)
            for connections in SEND_CONCURRENCY:
                anvil_script = per_connection_script(home, [("/", _send(a))
                                                      for a in dev_accounts[:connections]])
                sidecar_script = per_connection_script(home, [
                    (f"/rpc/{chain}/{s['credential']}", _send(s["address"]))
                    for s in sessions[:connections]])
                base = f"http://127.0.0.1:{studio.rpc_port}"
                sends.update(interleaved(
                    [("anvil signs", anvil_url, anvil_script, connections),
                     ("sidecar signs", base, sidecar_script, connections)],
                    connections=connections, seconds=seconds, repeats=repeats))
                if profile and connections == 1:
                    profiles["sidecar, eth_sendTransaction, concurrency 1"] = _profile(
                        studio.servers[0].pid, base, sidecar_script, connections=1, threads=1,
                        directory=home)
            if profile:
                profiles["sidecar, eth_blockNumber, concurrency 32"] = _profile(
                    studio.servers[0].pid, studio.rpc_url(), authed, connections=32, threads=1,
                    directory=home)
        finally:
            for floor in floors:
                floor.terminate()
                floor.wait(timeout=10)
            stop_studio(studio)
    return Measured(reads=reads, sends=sends, seconds=seconds, repeats=repeats,
                    profiles=profiles)


def main() -> None:
    measured = measure(quick="--quick" in sys.argv, profile="--profile" in sys.argv)
    print(render(measured.reads, measured.sends, seconds=measured.seconds,
                 repeats=measured.repeats))
    for name, summary in measured.profiles.items():
        print(f"\n### Profile: {name}\n\n{summary}")


def render(reads: dict[tuple[str, int], Run], sends: dict[tuple[str, int], Run], *,
           seconds: float, repeats: int) -> str:
    def table(title: str, results: dict[tuple[str, int], Run], base_name: str) -> list[str]:
        rows = [f"| {title} | concurrency | per second | p50 ms | x {base_name} | added p50 ms |",
                "|---|---|---|---|---|---|"]
        for (name, connections), run in results.items():
            base = results[(base_name, connections)]
            rows.append(f"| {name} | {connections} | {run.per_second:,.0f} | {run.p50_ms:.3f} | "
                        f"{run.per_second / base.per_second:.2f} | "
                        f"{run.p50_ms - base.p50_ms:+.3f} |")
        return rows

    head = (f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, wrk -t1, {seconds} s per run, "
            f"median of {repeats}; "
            + (f"servers on cores {cores()[0]}, wrk on core {cores()[1]}." if PIN
               else "nothing pinned."))
    return "\n".join([head, "", *table("`eth_blockNumber`", reads, "anvil straight"), "",
                      *table("`eth_sendTransaction` (ETH transfer, node fills gas and fees)",
                             sends, "anvil signs")])


if __name__ == "__main__":
    main()
