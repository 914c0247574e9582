"""The page's pure helpers: where a login may lead, and how money and times are shown."""

from __future__ import annotations

import pytest
from session_studio.admin_ui._pages_kit import amount, percent, safe_next, when


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "",
    None,
])
def test_login_never_leads_off_the_site(target: str | None) -> None:
    assert safe_next(target) == "/sessions"


def test_login_leads_back_to_the_page_asked_for() -> None:
    assert safe_next("/sessions?type=agent&label=x") == "/sessions?type=agent&label=x"


@pytest.mark.parametrize(("exact", "shown"), [
    ("18.2544768636029", "18.254477"), ("0.0000001", "0.000001"), ("20", "20"), ("0", "0"),
])
def test_amounts_are_shown_rounded_up_to_six_places(exact: str, shown: str) -> None:
    assert amount(exact) == shown


def test_utilization_is_shown_as_a_percentage() -> None:
    assert percent("0.9127") == "91.3%"


def test_times_are_shown_in_utc_to_the_minute() -> None:
    assert when("2026-11-25T13:15:42Z") == "2026-11-25 13:15 UTC"
    assert when(None) == "—"
