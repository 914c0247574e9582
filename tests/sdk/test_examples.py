"""The examples in `examples/` run as scripts, as a user runs them, against a real sidecar;
the dev faucet funds what they create on the test's anvil chain as it does on `make dev`'s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2e.harness import PRIMARY_CHAIN, Studio

from session_studio import Forbidden, StudioClient

from .conftest import agent_with_session

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=120, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_payment_agent_pays_rotates_and_shows_a_refusal(studio: Studio, tmp_path: Path) -> None:
    agent = agent_with_session(studio)
    config = tmp_path / "agent.json"
    config.write_text(json.dumps(agent.config))

    out = run_example("payment_agent.py", "--config", str(config), "--rotate-now",
                      "--dev-faucet", studio.chains[PRIMARY_CHAIN].rpc_url)

    assert f"rotated: {agent.config['key_hash'][:10]} revoked" in out
    assert "status 1" in out
    assert "refused: per_tx_limit_exceeded" in out
    assert f"{agent.config['key_hash'][:10]} revoked" in out


def test_payment_agent_does_not_rotate_a_young_session(studio: Studio, tmp_path: Path) -> None:
    agent = agent_with_session(studio)
    env = {"SESSION_STUDIO_AGENT_CONFIG": json.dumps(agent.config), "PATH": "/usr/bin:/bin"}

    out = run_example("payment_agent.py", env=env)

    assert "rotated" not in out
    assert f"session {agent.config['key_hash'][:10]}" in out
    assert "status 1" in out


def test_app_backend_pays_and_answers_403_with_the_reason(studio: Studio,
                                                          tmp_path: Path) -> None:
    app = studio.create_session(type_="app", tokens="USDC", per_tx="50", daily="200",
                                label="shop", fund=False)
    artifact = tmp_path / "app.json"
    artifact.write_text(json.dumps(app))

    out = run_example("app_backend.py", "demo", "--artifact", str(artifact),
                      "--dev-faucet", studio.chains[PRIMARY_CHAIN].rpc_url)

    allowed, refused = out.strip().splitlines()
    assert allowed.startswith("pay 5 USDC -> HTTP 200") and "'status': 1" in allowed
    assert refused.startswith("pay 100 USDC -> HTTP 403")
    assert "'refused': 'per_tx_limit_exceeded'" in refused


def test_app_backend_cannot_bind_an_app_session_with_an_admin_token(
        studio: Studio, admin_url: str, admin_token: str) -> None:
    # What the example once offered (--key-hash with a token) is the hole CONTRACT.md closes:
    # a token never obtains an app session's credential.
    app = studio.create_session(type_="app", tokens="USDC", label="shop", fund=False)

    with StudioClient(admin_url, admin_token) as client, pytest.raises(Forbidden) as refused:
        client.select_session(app["key_hash"])

    assert refused.value.code == "passkey_required"
