"""The shipped alerting rules pass Debian's promtool: syntax (`check rules`) and their unit
tests (`test rules`, config/prometheus/alerts_test.yml: a firing and a quiet case per rule).

promtool comes from the `prometheus` package (`make system-packages`); without it these tests
fail rather than skip, so a machine that cannot check the rules cannot pass the suite.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PROMTOOL = Path("/usr/bin/promtool")
RULES_DIR = Path(__file__).resolve().parents[2] / "config" / "prometheus"
RULES = RULES_DIR / "alerts.yml"
RULE_TESTS = RULES_DIR / "alerts_test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: run `make system-packages`"
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=RULES_DIR)


def test_alert_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", str(RULES))

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    tested = promtool("test", "rules", str(RULE_TESTS))

    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test() -> None:
    # promtool has checked both files' structure above; names are read with a pattern, so the
    # suite needs no YAML library of its own.
    alerts = set(re.findall(r"^\s*- alert: (\S+)$", RULES.read_text(), re.MULTILINE))
    tested = set(re.findall(r"^\s*alertname: (\S+)$", RULE_TESTS.read_text(), re.MULTILINE))

    assert len(alerts) == 8
    assert alerts == tested
