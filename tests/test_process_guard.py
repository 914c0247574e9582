"""The fast suite's guard: a test without the `e2e` mark cannot start a process."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys

import pytest
from process_guard import ProcessOutsideE2E


def test_a_test_outside_e2e_cannot_run_a_command() -> None:
    with pytest.raises(ProcessOutsideE2E, match=r"test_process_guard\.py.*not marked e2e"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


async def test_a_test_outside_e2e_cannot_start_an_asyncio_subprocess() -> None:
    with pytest.raises(ProcessOutsideE2E):
        await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")


def test_a_test_outside_e2e_cannot_start_a_worker_process() -> None:
    worker = multiprocessing.get_context("spawn").Process(target=print)
    with pytest.raises(ProcessOutsideE2E):
        worker.start()


@pytest.mark.e2e
def test_an_e2e_test_may_start_a_process() -> None:
    done = subprocess.run([sys.executable, "-c", "pass"], check=False)

    assert done.returncode == 0
