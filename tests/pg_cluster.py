"""A throwaway PostgreSQL cluster for tests: Debian's server binaries, a temp dir, a unix socket.

`PgCluster.start()` runs `initdb` and `pg_ctl start` (as the `postgres` user when the tests run
as root: the server refuses to run as root) on a data directory under a fresh temp dir, with
the socket in that dir and no TCP listener, tuned for tests (no fsync). `stop()` shuts it down
and removes everything. Databases are cheap copies of a migrated template (`new_database`).

Imported by the session fixture in tests/conftest.py and by anything (the backend contract
suite, replica tests) that needs a real server; `running()` is the cluster that fixture started.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
from session_studio.store import PostgresStore

INSTALL_HINT = ("PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin/initdb): "
                "install them with `make system-packages` (or `apt-get install postgresql`)")
_SERVER_OPTIONS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=400 -c listen_addresses=''")


class ClusterUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the server did not start."""


def find_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise ClusterUnavailable(INSTALL_HINT)
    return Path(found[-1]).parent


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One server on a temp dir; `url(db)` names a database on it."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="pg"))  # short: a socket path has 107 bytes
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        self._template: str | None = None
        self._free: list[str] = []  # emptied databases `new_database` hands out again

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise ClusterUnavailable(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> PgCluster:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        self.resume()
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data: clients see the database gone."""
        self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data))

    def resume(self) -> None:
        """Start the paused server again on the same socket and data."""
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                  "-l", str(self.root / "server.log"),
                  "-o", f"-p {self.port} -k {self.root} {_SERVER_OPTIONS}")

    def stop(self) -> None:
        with contextlib.suppress(ClusterUnavailable):
            self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={self.port}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"'
                         + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def new_database(self) -> tuple[str, str]:
        """A fresh, already migrated database: a recycled one emptied by `recycle_database`,
        else a new copy of the template (CREATE DATABASE costs ~0.1 s, emptying ~5 ms, which
        adds up over hypothesis' examples). (name, url)."""
        if self._free:
            name = self._free.pop()
            return name, self.url(name)
        if self._template is None:
            raise ClusterUnavailable("call prepare_template() first (outside an event loop)")
        name = f"t_{uuid.uuid4().hex[:16]}"
        return name, self.create_database(name, template=self._template)

    def recycle_database(self, name: str) -> None:
        """Empty a database from `new_database` (its clients gone) for the next test: every
        row deleted and every sequence restarted, the schema and its migrations kept."""
        with psycopg.connect(self.url(name), autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no FK checks
            tables = [t for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_migrations'").fetchall()]
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            for (sequence,) in conn.execute(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                    ).fetchall():
                conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
        self._free.append(name)

    def empty_database(self) -> tuple[str, str]:
        """A fresh database with no schema at all: (name, url)."""
        name = f"e_{uuid.uuid4().hex[:16]}"
        return name, self.create_database(name)

    def prepare_template(self) -> None:
        """Create and migrate the template `new_database` copies (runs its own event loop)."""
        url = self.create_database("studio_template")

        async def migrate() -> None:
            store = PostgresStore(url)
            await store.open()
            await store.close()

        asyncio.run(migrate())
        self._template = "studio_template"


_running: list[PgCluster] = []


def running() -> PgCluster:
    """The cluster the session fixture (`pg_cluster` in tests/conftest.py) started."""
    if not _running:
        raise ClusterUnavailable("no PostgreSQL cluster is running: request the `pg_cluster` "
                                 "fixture (it starts one per test session)")
    return _running[-1]


def start_for_session() -> PgCluster:
    cluster = PgCluster().start()
    cluster.prepare_template()
    _running.append(cluster)
    return cluster


def stop_for_session(cluster: PgCluster) -> None:
    _running.remove(cluster)
    cluster.stop()
