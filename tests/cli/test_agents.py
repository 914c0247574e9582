"""`session-studio agents register NAME | agents list | agents reissue | agents disable`."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from .conftest import Studio, stderr_lines

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def registered(studio: Studio) -> dict[str, Any]:
    payload: dict[str, Any] = studio.json("agents", "register", "reg-bot", "--daily-budget",
                                          "500.50")
    return payload


@pytest.fixture(scope="module")
def duplicate(studio: Studio, registered: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return studio.run("agents", "register", "reg-bot")


def test_agent_registration_prints_an_sst_credential(registered: dict[str, Any]) -> None:
    assert registered["credential"].startswith("sst_")


def test_agent_credential_is_43_url_safe_characters_after_the_prefix(
    registered: dict[str, Any],
) -> None:
    body = registered["credential"].removeprefix("sst_")
    assert len(body) == 43 and all(c.isalnum() or c in "-_" for c in body)


def test_agent_registration_echoes_the_name(registered: dict[str, Any]) -> None:
    assert registered["name"] == "reg-bot"


def test_registering_a_duplicate_agent_name_exits_1(
    duplicate: subprocess.CompletedProcess[str],
) -> None:
    assert duplicate.returncode == 1


def test_registering_a_duplicate_agent_name_says_why_on_one_line(
    duplicate: subprocess.CompletedProcess[str],
) -> None:
    lines = stderr_lines(duplicate)
    assert len(lines) == 1 and "reg-bot" in lines[0]


def test_agents_list_shows_the_budget_as_a_decimal_string(
    studio: Studio, registered: dict[str, Any],
) -> None:
    listed = studio.json("agents", "list")
    assert {"name": "reg-bot", "daily_budget": "500.5", "status": "active"} in listed



def test_reissue_prints_a_new_credential_as_json(studio: Studio) -> None:
    registered = studio.json("agents", "register", "reissue-bot")
    reissued = studio.json("agents", "reissue", "reissue-bot")
    assert reissued["credential"].startswith("sst_")
    assert reissued["credential"] != registered["credential"]


def test_reissuing_an_unknown_agent_exits_1_naming_it(studio: Studio) -> None:
    refused = studio.run("agents", "reissue", "nobody-here")
    assert refused.returncode == 1 and "nobody-here" in stderr_lines(refused)[0]


def test_disabling_twice_exits_1_the_second_time(studio: Studio) -> None:
    studio.json("agents", "register", "disable-bot")
    assert studio.json("agents", "disable", "disable-bot") == {
        "name": "disable-bot", "status": "disabled", "revoked": []}
    again = studio.run("agents", "disable", "disable-bot")
    assert again.returncode == 1 and "already disabled" in again.stderr
