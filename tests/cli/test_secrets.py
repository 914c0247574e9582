"""Credentials are never stored in plaintext (CONTRACT.md): the database holds only hashes."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .conftest import Inventory, Studio

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


def database_bytes(studio: Studio) -> bytes:
    """The database as it lies on disk: main file plus any WAL and shared-memory file."""
    files = [studio.root / name for name in ("studio.db", "studio.db-wal", "studio.db-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def mac_of(credential: str) -> bytes:
    body = credential.removeprefix("sst_")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


@pytest.fixture(scope="module")
def credentials(inventory: Inventory, bot: dict[str, Any]) -> dict[str, str]:
    return {"app session": inventory.app["credential"],
            "agent": bot["credential"], "workspace agent": inventory.agent["credential"]}


@pytest.mark.parametrize("owner", ["app session", "agent", "workspace agent"])
def test_credential_never_appears_in_the_database_files(
    studio: Studio, credentials: dict[str, str], owner: str,
) -> None:
    assert credentials[owner].encode() not in database_bytes(studio)


@pytest.mark.parametrize("owner", ["app session", "agent", "workspace agent"])
def test_credential_mac_bytes_never_appear_in_the_database_files(
    studio: Studio, credentials: dict[str, str], owner: str,
) -> None:
    assert mac_of(credentials[owner]) not in database_bytes(studio)
