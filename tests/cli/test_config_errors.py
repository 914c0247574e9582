"""A bad config fails at once: exit 1 and one line on stderr naming the key and the problem."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import CONFIG, Studio, run_cli, stderr_lines

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


def run_with_config(root: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = root / "bad.toml"
    path.write_text(text)
    return run_cli("sessions", "list", "--config", str(path), cwd=root)


@pytest.fixture(scope="module")
def unknown_key(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    text = CONFIG.replace("[server]\n", "[server]\nrpc_listn = \"127.0.0.1:1\"\n")
    return run_with_config(tmp_path_factory.mktemp("unknown-key"), text)


@pytest.fixture(scope="module")
def float_price(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    text = CONFIG.replace('price = { usd = "1.00" }', "price = { usd = 1.0 }")
    return run_with_config(tmp_path_factory.mktemp("float-price"), text)


def test_unknown_config_key_exits_1(unknown_key: subprocess.CompletedProcess[str]) -> None:
    assert unknown_key.returncode == 1


def test_unknown_config_key_is_named_on_one_stderr_line(
    unknown_key: subprocess.CompletedProcess[str],
) -> None:
    lines = stderr_lines(unknown_key)
    assert len(lines) == 1 and "server.rpc_listn" in lines[0]


def test_float_price_exits_1(float_price: subprocess.CompletedProcess[str]) -> None:
    assert float_price.returncode == 1


def test_float_price_is_named_on_one_stderr_line(
    float_price: subprocess.CompletedProcess[str],
) -> None:
    lines = stderr_lines(float_price)
    assert len(lines) == 1 and "tokens[0].price.usd" in lines[0]


def test_config_given_before_the_subcommand_is_honoured(studio: Studio, tmp_path: Path) -> None:
    result = run_cli("--config", str(studio.config), "workspaces", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
