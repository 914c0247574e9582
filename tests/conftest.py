"""Run-wide hooks: the secret scan over every log file the run wrote (tests/secret_scan.py);
the session's PostgreSQL cluster (tests/pg_cluster.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pg_cluster as pg_cluster_module
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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pg_cluster_module.PgCluster]:
    """A throwaway PostgreSQL server for this test session (per xdist worker), torn down at the
    end. Missing binaries FAIL the requesting tests with the install hint: never a skip."""
    try:
        cluster = pg_cluster_module.start_for_session()
    except pg_cluster_module.ClusterUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        pg_cluster_module.stop_for_session(cluster)
