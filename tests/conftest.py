"""Run-wide hooks: the secret scan over every log file the run wrote (tests/secret_scan.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import secret_scan


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    # Set before xdist starts the workers, which inherit the environment.
    if _is_controller(config) and secret_scan.ENV not in os.environ:
        handle, path = tempfile.mkstemp(prefix="studio-secrets-", suffix=".txt")
        os.close(handle)
        os.environ[secret_scan.ENV] = path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not _is_controller(config):
        return
    secrets_file = Path(os.environ[secret_scan.ENV])
    root = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    leaks = secret_scan.scan(root, secrets_file)
    if leaks:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_line("SECRET LEAK in logs written during this run:", red=True)
            for log, what in leaks:
                reporter.write_line(f"  {what} in {log}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
