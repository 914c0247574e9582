"""The page's pure helpers: where a login may lead, and how money and times are shown."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from session_studio.admin_ui._pages_kit import amount, percent, safe_next, when


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "",
    None, "/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\t\t/evil.example",
    "\t//evil.example", " //evil.example", "/\x00/evil.example", "/\u2028/evil.example",
])
def test_login_never_leads_off_the_site(target: str | None) -> None:
    assert safe_next(target) == "/sessions"


def _as_a_browser_reads_it(target: str) -> str:
    """The WHATWG URL parser's forgiveness: C0 and space trimmed at the ends, tabs and
    newlines dropped anywhere, and a backslash read as a slash in http(s) URLs."""
    target = target.strip("".join(map(chr, range(0x21))))
    return target.translate({0x09: None, 0x0A: None, 0x0D: None}).replace("\\", "/")


@given(st.text(alphabet=st.sampled_from("/\\\t\n\r .:@%?#ae\x00\u3002"), max_size=12)
       | st.text(max_size=12))
def test_wherever_next_points_the_login_stays_on_the_site(target: str) -> None:
    followed = urljoin("http://localhost:8646/login", _as_a_browser_reads_it(safe_next(target)))
    assert urlsplit(followed).netloc == "localhost:8646"


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
