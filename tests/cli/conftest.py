"""Run the real `session-studio` command line in a temporary folder.

Every call is a fresh `python -m session_studio.cli` process with the folder's config, as an
operator would type it. No chain is contacted: the chains point at http://127.0.0.1:1, and none of
these commands reads a chain. A process costs about half a second (mostly imports), so the
fixtures build one studio per test session and share each command's result among the tests
that read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from offline_config import chains_toml

LOCAL_CHAIN = 31337
SECOND_CHAIN = 84532
PUBLIC_RPC_URL = "http://127.0.0.1:8645"

CONFIG = f"""\
[server]
rpc_listen = "127.0.0.1:8645"
public_rpc_url = "{PUBLIC_RPC_URL}"

[database]
path = "studio.db"

[keystore]
master_key_file = "master.key"

{chains_toml(LOCAL_CHAIN, SECOND_CHAIN)}"""


def cli_env() -> dict[str, str]:
    """The caller's environment without Session Studio's own variables (config, master key)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SESSION_STUDIO_")}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "session_studio.cli", *args]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=cwd, env=cli_env(), capture_output=True,
                          text=True, timeout=120, check=False)


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@dataclass(frozen=True)
class Studio:
    """A folder with a config and an initialised database; commands run with its config."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "session-studio.toml"

    def argv(self, args: Sequence[str], workspace: str | None) -> list[str]:
        tail = ["--config", str(self.config)]
        if workspace is not None:
            tail += ["--workspace", workspace]
        return [*args, *tail]

    def run(self, *args: str, workspace: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*self.argv(args, workspace), cwd=self.root)

    def json(self, *args: str, workspace: str | None = None) -> Any:
        result = self.run(*args, "--json", workspace=workspace)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def run_all(
        self, commands: Mapping[str, Sequence[str]]
    ) -> dict[str, subprocess.CompletedProcess[str]]:
        """Run several commands, one after the other (in parallel they only fight over the
        CPU that imports take); results by name."""
        return {name: run_cli(*self.argv(args, None), cwd=self.root)
                for name, args in commands.items()}

    def create_session(
        self, *, label: str, type: str = "app", agent: str | None = None,
        chains: str = str(LOCAL_CHAIN), permissions: str = "transfer,approve",
        tokens: str = "USDC,ETH", per_tx: str = "10", daily: str = "100",
        expires_in: str = "7d", workspace: str | None = None,
    ) -> dict[str, Any]:
        args = ["sessions", "create", "--type", type, "--label", label, "--chains", chains,
                "--permissions", permissions, "--tokens", tokens, "--per-tx-limit", per_tx,
                "--daily-limit", daily, "--expires-in", expires_in]
        if agent is not None:
            args += ["--agent", agent]
        artifact: dict[str, Any] = self.json(*args, workspace=workspace)
        return artifact


def make_studio(root: Path) -> Studio:
    studio = Studio(root)
    studio.config.write_text(CONFIG)
    result = studio.run("init")
    assert result.returncode == 0, result.stderr
    return studio


@pytest.fixture(scope="session")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    """One initialised studio shared by the CLI tests; each test makes its own objects."""
    return make_studio(tmp_path_factory.mktemp("studio"))


@pytest.fixture(scope="session")
def bot(studio: Studio) -> dict[str, Any]:
    """An agent registered in the default workspace: {"name", "credential", "daily_budget"}."""
    registered: dict[str, Any] = studio.json("agents", "register", "ops-bot")
    return registered


INVENTORY = "inventory"


@dataclass(frozen=True)
class Inventory:
    """Four sessions in their own workspace, one of each status and type, and what the
    commands below said about them (each run once)."""

    workspace: dict[str, Any]
    agent: dict[str, Any]
    expired: dict[str, Any]  # app, "Delta-short", local chain, 1 s lifetime
    app: dict[str, Any]  # app, "Alpha checkout", local chain, 7 d
    agent_session: dict[str, Any]  # agent inv-bot, "beta-runner", second chain, 1 h
    revoked: dict[str, Any]  # app, "gamma", both chains, 2 d, then revoked
    revoke_output: dict[str, Any]
    results: dict[str, subprocess.CompletedProcess[str]]

    def json(self, name: str) -> Any:
        result = self.results[name]
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def _wait_until_expired(artifact: Mapping[str, Any]) -> None:
    # expires_at is truncated to the second: the real expiry is less than a second later.
    expires = datetime.strptime(artifact["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    delay = expires.timestamp() + 1.05 - time.time()
    if delay > 0:
        time.sleep(delay)


@pytest.fixture(scope="session")
def inventory(studio: Studio) -> Inventory:
    ws = INVENTORY
    workspace = studio.json("workspaces", "create", ws)
    agent = studio.json("agents", "register", "inv-bot", workspace=ws)
    expired = studio.create_session(label="Delta-short", expires_in="1", workspace=ws)
    app = studio.create_session(label="Alpha checkout", expires_in="7d", workspace=ws)
    agent_session = studio.create_session(
        label="beta-runner", type="agent", agent="inv-bot", chains=str(SECOND_CHAIN),
        tokens="ETH", expires_in="1h", workspace=ws)
    revoked = studio.create_session(label="gamma", chains=f"{LOCAL_CHAIN},{SECOND_CHAIN}",
                                    expires_in="2d", workspace=ws)
    revoke_output = studio.json("sessions", "revoke", revoked["key_hash"], workspace=ws)
    _wait_until_expired(expired)
    inside = ["--workspace", ws, "--json"]
    listing = ["sessions", "list", *inside]
    results = studio.run_all({
        "type-agent": [*listing, "--type", "agent"],
        "status-revoked": [*listing, "--status", "revoked"],
        "status-expired": [*listing, "--status", "expired"],
        "agent": [*listing, "--agent", "inv-bot"],
        "chain": [*listing, "--chain", str(SECOND_CHAIN)],
        "label": [*listing, "--label", "ALPHA"],
        "sort-expiry": [*listing, "--sort", "expiry"],
        "sort-created-desc": [*listing, "--sort=-created"],
        "show-app": ["sessions", "show", app["key_hash"], *inside],
        "show-revoked": ["sessions", "show", revoked["key_hash"], *inside],
        "revoke-again": ["sessions", "revoke", revoked["key_hash"], *inside],
        "show-from-default": ["sessions", "show", app["key_hash"], "--json"],
        "workspaces": ["workspaces", "list", "--json"],
    })
    return Inventory(workspace=workspace, agent=agent, expired=expired, app=app,
                     agent_session=agent_session, revoked=revoked,
                     revoke_output=revoke_output, results=results)
