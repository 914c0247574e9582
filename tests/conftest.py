"""Run-wide hooks: the secret scan over every log file the run wrote (tests/secret_scan.py), and
the marker rule that keeps the fast suite (`make test-fast`, `-m "not e2e"`) free of processes.

The rule: a test that starts a process (anvil, `serve` or the CLI, Chromium, PostgreSQL, a
worker of its own) is marked `e2e`; a `browser` test is `e2e` too, by the hook below. The guard
(tests/process_guard.py) makes the rule hard to forget: an unmarked test that starts a process
fails with a message that says which mark to add. The session's PostgreSQL cluster
(tests/pg_cluster.py) is a fixture here too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pg_cluster as pg_cluster_module
import pytest
import secret_scan
from process_guard import no_processes


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    # Set before xdist starts the workers, which inherit the environment.
    if _is_controller(config) and secret_scan.ENV not in os.environ:
        handle, path = tempfile.mkstemp(prefix="studio-secrets-", suffix=".txt")
        os.close(handle)
        os.environ[secret_scan.ENV] = path


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: `not e2e` must see the added mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.e2e)


@contextlib.contextmanager
def _guarded(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("e2e") is not None:
        yield
    else:
        with no_processes(item.nodeid):
            yield


# Setup too: a process is most often started by a fixture. Not teardown: the finalizers of a
# module- or session-wide fixture run in whichever test happens to come last, and stopping what
# an e2e test started (`pg_ctl stop`) may itself be a process.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _guarded(item):
        return (yield)


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
