"""The server-rendered spend chart: well-formed SVG, one bar per hour that spent, the limit
line, and nothing a label could inject."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st
from session_studio.admin_ui._charts import HOUR_MS, spend_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
NOW = 1_800_000_000_000
UNIT = 10**18


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_each_hour_that_spent_is_one_bar() -> None:
    hour = NOW // HOUR_MS * HOUR_MS
    svg = _parse(spend_chart_svg({hour: 5 * UNIT, hour - 3 * HOUR_MS: 2 * UNIT},
                                 limit=100 * UNIT, unit="USD", now_ms=NOW))
    assert len(svg.findall(f"{SVG}rect")) == 2


def test_spend_older_than_the_chart_is_not_drawn() -> None:
    old = (NOW // HOUR_MS - 30) * HOUR_MS
    svg = _parse(spend_chart_svg({old: 5 * UNIT}, limit=100 * UNIT, unit="USD", now_ms=NOW))
    assert svg.findall(f"{SVG}rect") == []


def test_the_limit_is_drawn_as_a_line_and_the_total_is_labelled() -> None:
    hour = NOW // HOUR_MS * HOUR_MS
    svg = spend_chart_svg({hour: 30 * UNIT}, limit=100 * UNIT, unit="USD", now_ms=NOW)
    root = _parse(svg)
    assert [e for e in root.findall(f"{SVG}line") if e.get("class") == "limit"]
    assert "30 of 100 USD" in (root.get("aria-label") or "")


def test_a_unit_with_markup_is_escaped() -> None:
    svg = spend_chart_svg({}, limit=UNIT, unit='<script>"x"</script>', now_ms=NOW)
    assert "<script>" not in svg
    _parse(svg)  # still well-formed


@given(st.dictionaries(st.integers(-48, 0), st.integers(0, 10**30), max_size=30),
       st.integers(1, 10**30))
def test_any_spend_history_renders_well_formed_svg_inside_the_canvas(
        hours: dict[int, int], limit: int) -> None:
    base = NOW // HOUR_MS * HOUR_MS
    root = _parse(spend_chart_svg({base + h * HOUR_MS: v for h, v in hours.items()},
                                  limit=limit, unit="USD", now_ms=NOW))
    for rect in root.findall(f"{SVG}rect"):
        assert 0 <= float(rect.get("y", "-1")) <= 190
        assert float(rect.get("height", "-1")) >= 0
