"""A test outside `e2e` that starts a process fails, naming the mark it lacks.

Why: the fast suite (`-m "not e2e"`) stays fast only while every test that starts anvil,
`serve`, the CLI, Chromium, PostgreSQL or a worker process carries the `e2e` mark. Forgetting
the mark would not fail anything, it would only make the fast suite slow again, so the run
refuses the process instead: every way Python starts one goes through `Popen._execute_child`
(subprocess, asyncio subprocesses, Playwright's driver), `_posixsubprocess.fork_exec`
(multiprocessing's spawn and forkserver) or `os.fork`.
"""

from __future__ import annotations

import _posixsubprocess
import contextlib
import os
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn


class ProcessOutsideE2E(RuntimeError):
    """A test without the `e2e` mark tried to start a process."""


@contextlib.contextmanager
def no_processes(nodeid: str) -> Iterator[None]:
    """While inside, starting a process raises `ProcessOutsideE2E` naming `nodeid`."""

    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise ProcessOutsideE2E(
            f"{nodeid} starts a process but is not marked e2e: add "
            "`pytestmark = pytest.mark.e2e` to its module (see tests/conftest.py)")

    saved = (subprocess.Popen._execute_child,  # type: ignore[attr-defined]
             _posixsubprocess.fork_exec, os.fork)
    subprocess.Popen._execute_child = refuse  # type: ignore[attr-defined]
    _posixsubprocess.fork_exec = refuse
    os.fork = refuse
    try:
        yield
    finally:
        (subprocess.Popen._execute_child,  # type: ignore[attr-defined]
         _posixsubprocess.fork_exec, os.fork) = saved
