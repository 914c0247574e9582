"""Real components for end-to-end tests: anvil chains, a `serve` process, the CLI, web3 clients.

Everything is started as the user would start it (subprocesses, TOML config on disk, the
console script), on free loopback ports, and torn down by the fixtures in conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import secret_scan
from session_studio.keystore import KeyContext, load_master_key
from session_studio.keystore._envelope import KeyEnvelope
from session_studio_dev import (
    AnvilNode,
    deploy_demo_usdc,
    erc20_balance,
    free_port,
    fund_native,
    mint_usdc,
)
from web3 import Web3

CLI = [sys.executable, "-m", "session_studio.cli"]
PRIMARY_CHAIN = 31337
SECOND_CHAIN = 84532  # a second configured chain, to try chain-scope attacks against
ETH_PRICE_USD = 3000
ERC20_TRANSFER_ABI = [{
    "name": "transfer", "type": "function", "stateMutability": "nonpayable",
    "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
    "outputs": [{"name": "", "type": "bool"}]}]


class CliFailed(AssertionError):
    def __init__(self, args: list[str], proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"session-studio {' '.join(args)} exited {proc.returncode}: "
                         f"{proc.stderr.strip()}")
        self.returncode = proc.returncode
        self.stderr = proc.stderr


@dataclass
class Studio:
    """A configured sidecar home: config file, master key and database in `home`."""

    home: Path
    config: Path
    chains: dict[int, AnvilNode]
    usdc: dict[int, str]
    rpc_port: int
    admin_port: int
    metrics_port: int
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _agents: int = 0
    database_url: str | None = None  # PostgreSQL; None: studio.db in `home`

    # -- CLI -------------------------------------------------------------------------------
    def cli_raw(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*CLI, *args, "--config", str(self.config)], capture_output=True,
                              text=True, timeout=60, check=False)
        secret_scan.record_credentials_in(proc.stdout)
        return proc

    def cli(self, *args: str) -> Any:
        proc = self.cli_raw(*args, "--json")
        if proc.returncode != 0:
            raise CliFailed(list(args), proc)
        return json.loads(proc.stdout)

    def new_agent(self) -> str:
        self._agents += 1
        name = f"agent-{self._agents}-{os.getpid()}"
        self.cli("agents", "register", name)
        return name

    def create_session(self, *, chains: str = str(PRIMARY_CHAIN), permissions: str = "transfer",
                       tokens: str = "USDC,ETH", per_tx: str = "50", daily: str = "200",
                       unit: str = "USD", expires_in: str = "1h", type_: str = "agent",
                       agent: str | None = None, label: str = "e2e",
                       fund: bool = True, recipients: str | None = None,
                       contracts: str | None = None, rate_limit: int | None = None,
                       max_fee_gwei: str | None = None,
                       approve_above: str | None = None) -> dict[str, Any]:
        """A session created through the CLI, funded on the primary chain."""
        args = ["sessions", "create", "--type", type_, "--label", label, "--chains", chains,
                "--permissions", permissions, "--tokens", tokens, "--per-tx-limit", per_tx,
                "--daily-limit", daily, "--limit-unit", unit, "--expires-in", expires_in]
        for flag, value in (("--recipients", recipients), ("--contracts", contracts),
                            ("--rate-limit", rate_limit),
                            ("--max-fee-per-gas-gwei", max_fee_gwei),
                            ("--approve-above", approve_above)):
            if value is not None:
                args += [flag, str(value)]
        if type_ == "agent":
            args += ["--agent", agent or self.new_agent()]
        artifact: dict[str, Any] = self.cli(*args)
        if fund:
            self.fund(artifact["address"])
        return artifact

    def fund(self, address: str, *, eth: int = 10, usdc: int = 10_000) -> None:
        for chain_id, node in self.chains.items():
            w3 = node.web3()
            fund_native(w3, address, eth * 10**18)
            mint_usdc(w3, self.usdc[chain_id], address, usdc * 10**6)

    # -- server ----------------------------------------------------------------------------
    def start_server(self, *, rpc_port: int | None = None,
                     upstream_timeout_s: float | None = None) -> subprocess.Popen[bytes]:
        """`session-studio serve` as a subprocess; returns once /healthz answers. On another
        `rpc_port` (or another `[server] upstream_timeout_s`) it runs on a copy of the config."""
        log = open(self.home / f"serve-{len(self.servers)}.log", "ab")  # noqa: SIM115
        config = self.config
        if (rpc_port is not None and rpc_port != self.rpc_port) or upstream_timeout_s:
            config = self.home / f"serve-{rpc_port or self.rpc_port}.toml"
            text = self.config.read_text()
            if rpc_port is not None and rpc_port != self.rpc_port:
                text = text.replace(f"127.0.0.1:{self.rpc_port}", f"127.0.0.1:{rpc_port}")
                text = text.replace(f"127.0.0.1:{self.admin_port}", f"127.0.0.1:{free_port()}")
                text = text.replace(f"127.0.0.1:{self.metrics_port}",
                                    f"127.0.0.1:{free_port()}")
            if upstream_timeout_s:
                text = text.replace("[server]\n",
                                    f"[server]\nupstream_timeout_s = {upstream_timeout_s}\n", 1)
            config.write_text(text)
        port = rpc_port or self.rpc_port
        proc = subprocess.Popen([*CLI, "serve", "--config", str(config)], stdout=log,
                                stderr=subprocess.STDOUT)
        self.servers.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return proc
            except OSError:
                time.sleep(0.05)
        raise AssertionError("serve did not become healthy within 30 s")

    def start_replica(self, *, upstream_timeout_s: float | None = None,
                      ) -> tuple[int, subprocess.Popen[bytes]]:
        """One more `serve` on this config and database, on its own ports: a replica."""
        port = free_port()
        return port, self.start_server(rpc_port=port, upstream_timeout_s=upstream_timeout_s)

    def stop_servers(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.servers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.servers.clear()

    def rpc_url(self, chain_id: int = PRIMARY_CHAIN, *, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.rpc_port}/rpc/{chain_id}"

    # -- clients ---------------------------------------------------------------------------
    def web3(self, artifact: dict[str, Any], chain_id: int = PRIMARY_CHAIN, *,
             port: int | None = None) -> Web3:
        """web3.py pointed at the sidecar exactly as the README tells users to."""
        return Web3(Web3.HTTPProvider(
            self.rpc_url(chain_id, port=port),
            request_kwargs={"headers": {"Authorization": f"Bearer {artifact['credential']}"},
                            "timeout": 60}))

    def chain_web3(self, chain_id: int = PRIMARY_CHAIN) -> Web3:
        """Straight to the node, for checking what really happened on chain."""
        return self.chains[chain_id].web3()

    def usdc_balance(self, address: str, chain_id: int = PRIMARY_CHAIN) -> int:
        return erc20_balance(self.chain_web3(chain_id), self.usdc[chain_id], address)

    def usdc_contract(self, w3: Web3, chain_id: int = PRIMARY_CHAIN) -> Any:
        return w3.eth.contract(address=Web3.to_checksum_address(self.usdc[chain_id]),
                               abi=ERC20_TRANSFER_ABI)


def write_config(home: Path, chains: dict[int, AnvilNode], usdc: dict[int, str], *,
                 rpc_port: int, admin_port: int, metrics_port: int,
                 database_url: str | None = None) -> Path:
    lines = [
        "[server]",
        f'rpc_listen = "127.0.0.1:{rpc_port}"',
        f'admin_listen = "127.0.0.1:{admin_port}"',
        f'metrics_listen = "127.0.0.1:{metrics_port}"',
        "[database]", 'path = "studio.db"' if database_url is None else f'url = "{database_url}"',
        "[keystore]", 'master_key_file = "master.key"',
    ]
    for chain_id, node in chains.items():
        lines += [f"[chains.{chain_id}]", f'name = "anvil-{chain_id}"',
                  f'rpc_url = "{node.rpc_url}"', 'native_symbol = "ETH"',
                  f'native_price = {{ usd = "{ETH_PRICE_USD}.00" }}']
    for chain_id, address in usdc.items():
        lines += ["[[tokens]]", f"chain_id = {chain_id}", 'symbol = "USDC"',
                  f'address = "{address}"', "decimals = 6", 'price = { usd = "1.00" }']
    config = home / "session-studio.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def start_studio(home: Path, *, database_url: str | None = None,
                 chain_ids: tuple[int, ...] = (PRIMARY_CHAIN, SECOND_CHAIN),
                 anvil_args: tuple[str, ...] = ()) -> Studio:
    """Anvil chains (both by default) with demo USDC, a config, `init` run: ready for
    `start_server`. The database is studio.db in `home`, or the PostgreSQL database at
    `database_url`; `anvil_args` go to every anvil (a bench's `--accounts 16`)."""
    chains: dict[int, AnvilNode] = {}
    usdc: dict[int, str] = {}
    for chain_id in chain_ids:
        node = AnvilNode(port=0, chain_id=chain_id, log_path=home / f"anvil-{chain_id}.log",
                         extra_args=anvil_args)
        node.start()
        chains[chain_id] = node
        usdc[chain_id] = deploy_demo_usdc(node.web3())
    rpc_port, admin_port, metrics_port = free_port(), free_port(), free_port()
    config = write_config(home, chains, usdc, rpc_port=rpc_port, admin_port=admin_port,
                          metrics_port=metrics_port, database_url=database_url)
    studio = Studio(home=home, config=config, chains=chains, usdc=usdc, rpc_port=rpc_port,
                    admin_port=admin_port, metrics_port=metrics_port,
                    database_url=database_url)
    init = studio.cli_raw("init")
    if init.returncode != 0:
        raise AssertionError(f"init failed: {init.stderr}")
    return studio


@contextmanager
def running_studio(home: Path, *, database_url: str | None = None,
                   extra_config: str = "") -> Iterator[Studio]:
    """Anvils, `init` and one `serve`, stopped (and their keys recorded) on exit: the module
    fixture of every test package that needs a live sidecar. `extra_config` (TOML tables) is
    appended to the config before `serve` starts."""
    studio = start_studio(home, database_url=database_url)
    if extra_config:
        studio.config.write_text(studio.config.read_text() + extra_config)
    try:
        studio.start_server()
        yield studio
    finally:
        stop_studio(studio)


def record_private_keys(home: Path, database_url: str | None = None) -> None:
    """Every session key still sealed in the database, for the run-wide log scan."""
    envelope = KeyEnvelope(load_master_key(path=home / "master.key", env={}))
    sql = "SELECT id, workspace_id, sealed_key FROM sessions WHERE sealed_key IS NOT NULL"
    if database_url is not None:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        with closing(sqlite3.connect(home / "studio.db")) as db:
            rows = db.execute(sql).fetchall()
    secret_scan.record(envelope.open(sealed, KeyContext(workspace_id=ws, session_id=sid))
                       for sid, ws, sealed in rows)


def stop_studio(studio: Studio) -> None:
    record_private_keys(studio.home, studio.database_url)
    studio.stop_servers()
    for node in studio.chains.values():
        node.stop()
