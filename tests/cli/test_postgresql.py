"""The command line on a PostgreSQL database (`[database] url`): the composition root opens
the PostgreSQL store, and every command works on it as on the SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pg_cluster as cluster_module
import pytest

from .conftest import CONFIG, Studio

pytestmark = pytest.mark.e2e
PASSWORD = "not-a-real-password"  # trust auth ignores it; it must never be printed


@pytest.fixture(scope="module")
def pg_studio(pg_cluster: cluster_module.PgCluster,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    name, url = pg_cluster.empty_database()
    url = url.replace("postgres@", f"postgres:{PASSWORD}@")
    studio = Studio(tmp_path_factory.mktemp("pg-studio"))
    studio.config.write_text(CONFIG.replace('path = "studio.db"', f'url = "{url}"'))
    yield studio
    pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def initialised(pg_studio: Studio) -> str:
    result = pg_studio.run("init")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def created(pg_studio: Studio, initialised: str) -> dict[str, Any]:
    return pg_studio.create_session(label="on-postgres")


def test_init_on_postgresql_creates_the_default_workspace(pg_studio: Studio,
                                                          initialised: str) -> None:
    assert pg_studio.json("workspaces", "list") == [{"name": "default"}]


def test_init_on_postgresql_writes_no_sqlite_file(pg_studio: Studio, initialised: str) -> None:
    assert not (pg_studio.root / "studio.db").exists()


def test_init_on_postgresql_never_prints_the_password(initialised: str) -> None:
    assert "database ready at postgresql://" in initialised
    assert PASSWORD not in initialised


def test_a_session_created_on_postgresql_is_listed(pg_studio: Studio,
                                                   created: dict[str, Any]) -> None:
    labels = [s["label"] for s in pg_studio.json("sessions", "list")]
    assert labels == ["on-postgres"]
