"""`session-studio audit verify | export`: every admin action lands in the chained trail, and
tampering with the database file is reported at the first broken entry."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from .conftest import Studio, make_studio

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Studio:
    """A studio with a few audited actions: workspace, agent, sessions, revoke, rotate, token."""
    studio = make_studio(tmp_path_factory.mktemp("audited"))
    studio.json("agents", "register", "audit-bot")
    first = studio.create_session(label="one")
    studio.create_session(label="two", type="agent", agent="audit-bot")
    studio.json("sessions", "revoke", first["key_hash"])
    third = studio.create_session(label="three")
    studio.json("sessions", "rotate", third["key_hash"])
    studio.json("tokens", "create", "--scope", "sessions:read")
    return studio


def _copy(studio: Studio, tmp_path: Path) -> Studio:
    """A private copy to tamper with (the shared one stays intact)."""
    copy = Studio(tmp_path / "copy")
    shutil.copytree(studio.root, copy.root)
    return copy


def _export(studio: Studio) -> list[dict[str, object]]:
    result = studio.run("audit", "export")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_an_untouched_trail_verifies(audited: Studio) -> None:
    verdict = audited.json("audit", "verify")
    assert verdict["ok"] is True and verdict["entries"] >= 7


def test_export_writes_one_json_line_per_admin_action_in_order(audited: Studio) -> None:
    actions = [e["action"] for e in _export(audited)]
    assert actions == ["workspace.create", "admin.invite", "agent.register", "session.create",
                       "session.create", "session.revoke", "session.create",
                       "session.rotate", "token.create"]


def test_export_names_the_cli_user_as_the_actor(audited: Studio) -> None:
    assert all(str(e["actor"]).startswith("cli:") for e in _export(audited))


def test_export_never_contains_a_credential(audited: Studio) -> None:
    assert "sst_" not in audited.run("audit", "export").stdout
    assert "ssa_" not in audited.run("audit", "export").stdout


def test_editing_one_row_in_the_database_file_is_reported_at_that_entry(
        audited: Studio, tmp_path: Path) -> None:
    copy = _copy(audited, tmp_path)
    with sqlite3.connect(copy.root / "studio.db") as db:
        db.execute("UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 4")
    result = copy.run("audit", "verify", "--json")
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False and verdict["first_broken_seq"] == 4


def test_deleting_one_row_is_reported_where_it_was(audited: Studio, tmp_path: Path) -> None:
    copy = _copy(audited, tmp_path)
    with sqlite3.connect(copy.root / "studio.db") as db:
        db.execute("DELETE FROM audit_log WHERE seq = 6")
    result = copy.run("audit", "verify", "--json")
    assert result.returncode == 1 and json.loads(result.stdout)["first_broken_seq"] == 6


def test_verify_in_text_mode_names_the_broken_entry(audited: Studio, tmp_path: Path) -> None:
    copy = _copy(audited, tmp_path)
    with sqlite3.connect(copy.root / "studio.db") as db:
        db.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 5")
    result = copy.run("audit", "verify")
    assert result.returncode == 1 and "BROKEN at entry 5" in result.stdout
