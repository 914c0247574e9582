"""A real `session-studio serve` process without chains, for tests that talk HTTP to the admin
listener from outside the process (Schemathesis).

The chains point at a closed port (http://127.0.0.1:1): the admin API never contacts a chain.
Set-up goes through the CLI, as an operator would: `init`, `tokens create`, `agents register`,
`sessions create`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline_config import chains_toml
from session_studio_dev import free_port

CLI = [sys.executable, "-m", "session_studio.cli"]
_SERVE_AFTER_WEB3 = ("import sys, web3\n"
                     "from session_studio.cli import main\n"
                     "sys.exit(main(sys.argv[1:]))")
LOCAL_CHAIN = 31337


def _config(rpc_port: int, admin_port: int, metrics_port: int) -> str:
    return f"""\
[server]
rpc_listen = "127.0.0.1:{rpc_port}"
admin_listen = "127.0.0.1:{admin_port}"
metrics_listen = "127.0.0.1:{metrics_port}"
public_rpc_url = "http://127.0.0.1:{rpc_port}"

[database]
path = "studio.db"

[keystore]
master_key_file = "master.key"

[admin]
rp_id = "localhost"
origin = "http://localhost:{admin_port}"

{chains_toml(LOCAL_CHAIN)}"""


@dataclass
class ServedStudio:
    home: Path
    config: Path
    admin_port: int
    process: subprocess.Popen[bytes] | None = None
    # `session-studio dev` imports web3 (through the dev chain helpers) before it serves, and
    # web3's py_ecc raises Python's recursion limit to 100000: run `serve` the same way.
    like_dev: bool = False
    log_files: list[Any] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return f"http://localhost:{self.admin_port}"

    def cli(self, *args: str) -> Any:
        proc = subprocess.run([*CLI, *args, "--config", str(self.config), "--json"],
                              capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"session-studio {' '.join(args)}: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    def start(self) -> None:
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - closed in stop()
        self.log_files.append(log)
        command = ([sys.executable, "-c", _SERVE_AFTER_WEB3] if self.like_dev else CLI)
        self.process = subprocess.Popen([*command, "serve", "--config", str(self.config)],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}; see "
                                     f"{self.home / 'serve.log'}")
            try:
                with urllib.request.urlopen(f"{self.admin_url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("serve's admin listener did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for log in self.log_files:
            log.close()

    def server_log(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")


def initialised_studio(home: Path, *, like_dev: bool = False) -> ServedStudio:
    """A config on free ports and `init` run: ready for `start()`."""
    admin_port = free_port()
    config = home / "session-studio.toml"
    config.write_text(_config(free_port(), admin_port, free_port()))
    proc = subprocess.run([*CLI, "init", "--config", str(config)], capture_output=True,
                          text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"init failed: {proc.stderr}")
    return ServedStudio(home=home, config=config, admin_port=admin_port, like_dev=like_dev)
