"""AnvilNode: free ports, readiness, clean shutdown, clear errors."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from session_studio_dev import AnvilNode, DevchainError, find_anvil

pytestmark = pytest.mark.e2e


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_nodes_at_once_get_distinct_free_ports(anvil_path: Path) -> None:
    with AnvilNode(anvil_path=anvil_path) as first, AnvilNode(anvil_path=anvil_path) as second:
        assert first.port != second.port
        assert first.web3().eth.chain_id == second.web3().eth.chain_id == 31337


def test_node_answers_with_requested_chain_id(anvil_path: Path) -> None:
    with AnvilNode(anvil_path=anvil_path, chain_id=8453) as node:
        assert node.web3().eth.chain_id == node.chain_id == 8453


def test_stop_leaves_no_process(anvil_path: Path) -> None:
    node = AnvilNode(anvil_path=anvil_path).start()
    pid = node.pid
    assert pid is not None
    assert _process_exists(pid)

    node.stop()

    assert not node.running
    assert not _process_exists(pid)
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", node.port), timeout=1),
    ):
        pass


def test_kill_leaves_no_process(anvil_path: Path) -> None:
    node = AnvilNode(anvil_path=anvil_path).start()
    pid = node.pid
    assert pid is not None

    node.kill()

    assert not _process_exists(pid)
    node.stop()  # stopping a killed node is a no-op, not an error


def test_start_on_taken_port_reports_anvil_stderr(anvil_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(DevchainError, match="Address already in use"):
            AnvilNode(anvil_path=anvil_path, port=taken).start()


def test_block_time_mines_without_transactions(anvil_path: Path) -> None:
    with AnvilNode(anvil_path=anvil_path, block_time=0.2) as node:
        w3 = node.web3()
        start = w3.eth.block_number
        deadline = time.monotonic() + 5
        while w3.eth.block_number == start and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w3.eth.block_number > start


def test_find_anvil_honours_env_override(anvil_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_STUDIO_ANVIL", str(anvil_path))
    assert find_anvil() == anvil_path


def test_find_anvil_rejects_missing_override_with_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSION_STUDIO_ANVIL", str(tmp_path / "no-such-anvil"))
    with pytest.raises(FileNotFoundError, match="run `npm ci`"):
        find_anvil()
