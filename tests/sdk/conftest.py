"""One real sidecar per test module (two anvil chains + `session-studio serve`, the e2e
harness) and an admin API token made by the CLI, as an operator makes one.

Each test makes its own agents and sessions, so tests share the server but not state.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e.harness import PRIMARY_CHAIN, Studio, running_studio

from session_studio import StudioClient

_names = itertools.count(1)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with running_studio(tmp_path_factory.mktemp("sdk")) as running:
        yield running


@pytest.fixture(scope="module")
def admin_token(studio: Studio) -> str:
    created: dict[str, Any] = studio.cli("tokens", "create", "--name", "sdk-tests",
                                         "--scope", "sessions:write,agents:write")
    token: str = created["token"]
    return token


@pytest.fixture(scope="module")
def admin_url(studio: Studio) -> str:
    return f"http://127.0.0.1:{studio.admin_port}"


@pytest.fixture
def client(admin_url: str, admin_token: str) -> Iterator[StudioClient]:
    with StudioClient(admin_url, admin_token) as studio_client:
        yield studio_client


@dataclass(frozen=True)
class Agent:
    name: str
    config: dict[str, Any]  # the exported config of its first session (credential included)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}-{os.getpid()}"


def register_agent(studio: Studio, *, budget: str | None = None, per_tx: str = "50",
                   daily: str = "200", lifetime: str = "7d", sessions: int = 5,
                   ceiling: bool = True) -> str:
    name = unique("agent")
    args = ["agents", "register", name]
    if budget is not None:
        args += ["--daily-budget", budget]
    if ceiling:
        args += ["--ceiling-permissions", "transfer", "--ceiling-chains", str(PRIMARY_CHAIN),
                 "--ceiling-tokens", "USDC,ETH", "--ceiling-per-tx", per_tx,
                 "--ceiling-daily", daily, "--ceiling-lifetime", lifetime,
                 "--ceiling-sessions", str(sessions)]
    studio.cli(*args)
    return name


def agent_with_session(studio: Studio, **ceiling: Any) -> Agent:
    """A registered agent (with a self-service ceiling) and one funded session, exported."""
    name = register_agent(studio, **ceiling)
    artifact = studio.create_session(agent=name, per_tx="50", daily="200", expires_in="1d",
                                     label="exported")
    return Agent(name=name, config=artifact)
