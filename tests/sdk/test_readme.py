"""The README's "Python SDK" blocks, run as written against a real sidecar: the environment
variables they read are what the README's set-up commands export on `make dev`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e.harness import Studio

from .conftest import agent_with_session

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Python SDK\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def run_block(code: str, env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, env={"PATH": os.environ["PATH"], **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_readme_has_the_core_and_the_agent_sdk_blocks() -> None:
    core, agent = sdk_blocks()

    assert "StudioClient" in core and "AgentWallet" in agent


def test_the_core_sdk_block_runs(studio: Studio, admin_url: str, admin_token: str) -> None:
    studio.cli("agents", "register", "demo-agent")
    core, _ = sdk_blocks()

    out = run_block(core, {"SESSION_STUDIO_ADMIN_URL": admin_url,
                           "SESSION_STUDIO_ADMIN_TOKEN": admin_token})

    assert "payouts 0 / 100" in out
    assert "on chain 31337" in out
    assert out.strip().endswith("refused: session_revoked")


def test_the_agent_sdk_block_runs(studio: Studio) -> None:
    agent = agent_with_session(studio)
    _, block = sdk_blocks()

    out = run_block(block, {"SESSION_STUDIO_AGENT_CONFIG": json.dumps(agent.config)})

    assert f"{agent.config['key_hash'][:10]} active exported" in out
    assert "paid: 1" in out
    assert "refused: per_tx_limit_exceeded" in out
    assert f"rotated: {agent.config['address']} -> 0x" in out


def approvals_block() -> str:
    text = README.read_text()
    section = text.split("\n## Approvals: a person in the loop\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_the_readme_approvals_block_waits_for_a_person_and_pays(studio: Studio) -> None:
    """The agent side of the README's approvals section, while a person approves on the host
    (the CLI) as the block waits; the demo terms: held above 20, per-tx cap 50."""
    name = f"readme-approvals-{os.getpid()}"
    studio.cli("agents", "register", name)
    artifact = studio.create_session(per_tx="50", daily="200", expires_in="1d", agent=name,
                                     label="held", approve_above="20")
    agent = subprocess.Popen(
        [sys.executable, "-c", approvals_block()], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={"PATH": os.environ["PATH"], "SESSION_STUDIO_AGENT_CONFIG": json.dumps(artifact)})
    try:
        approval_id = None
        deadline = time.monotonic() + 60
        while approval_id is None and time.monotonic() < deadline:
            pending = [a for a in studio.cli("approvals", "list", "--status", "pending")
                       if a["key_hash"] == artifact["key_hash"]]
            approval_id = pending[0]["approval_id"] if pending else None
            time.sleep(0.2)
        assert approval_id is not None, "the block's transfer was never held"
        studio.cli("approvals", "approve", approval_id)
        out, err = agent.communicate(timeout=120)
    finally:
        agent.kill()
    assert agent.returncode == 0, err
    assert "approved and paid: 1" in out
