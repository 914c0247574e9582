"""Spend over time as a small server-rendered SVG: bars of spend per hour, the running total
of the window as a line, and the daily limit as a dashed line. No JavaScript library.

Pure: it takes numbers and returns markup, so it is tested without a server. Colours come from
classes styled in studio.css (the page's CSP forbids inline styles); every text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from html import escape

from session_studio.policy import format_amount

HOUR_MS = 3_600_000
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 600, 190, 56, 24, 26


def spend_chart_svg(per_hour: Mapping[int, int], *, limit: int, unit: str, now_ms: int,
                    hours: int = 24, title: str = "Spend per hour, last 24 h") -> str:
    """`per_hour`: hour start (unix ms) -> spend in unit atoms; `limit` in unit atoms."""
    first = (now_ms // HOUR_MS - hours + 1) * HOUR_MS
    buckets = [per_hour.get(first + i * HOUR_MS, 0) for i in range(hours)]
    running: list[int] = []
    total = 0
    for amount in buckets:
        total += amount
        running.append(total)
    top = max([limit, total, 1])
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / hours

    def y(atoms: int) -> float:
        return PAD_TOP + plot_h - plot_h * atoms / top

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="spend-chart" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{escape(title)}: '
             f'{escape(format_amount(total))} of {escape(format_amount(limit))} '
             f'{escape(unit)}">', f"<title>{escape(title)}</title>"]
    for i, amount in enumerate(buckets):
        if amount:
            x, top_y = PAD_LEFT + i * step + 1, y(amount)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{top_y:.1f}" width="{step - 2:.1f}" '
                f'height="{PAD_TOP + plot_h - top_y:.1f}"><title>'
                f'{escape(format_amount(amount))} {escape(unit)}</title></rect>')
    points = " ".join(f"{PAD_LEFT + (i + 1) * step:.1f},{y(v):.1f}"
                      for i, v in enumerate(running))
    parts.append(f'<polyline class="running" fill="none" points="{PAD_LEFT},{y(0):.1f} '
                 f'{points}"/>')
    limit_y = y(limit)
    parts += [
        f'<line class="limit" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{limit_y:.1f}" '
        f'y2="{limit_y:.1f}" stroke-dasharray="6 4"/>',
        f'<text class="axis" x="{PAD_LEFT - 4}" y="{limit_y + 4:.1f}" text-anchor="end">'
        f'{escape(_short(limit))}</text>',
        f'<text class="axis" x="{PAD_LEFT - 4}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>',
        f'<line class="axis-line" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y(0):.1f}" '
        f'y2="{y(0):.1f}"/>',
        f'<text class="axis" x="{PAD_LEFT}" y="{HEIGHT - 6}">-{hours} h</text>',
        f'<text class="axis" x="{WIDTH - 8}" y="{HEIGHT - 6}" text-anchor="end">now</text>',
        f'<text class="legend" x="{WIDTH - 8}" y="14" text-anchor="end">'
        f'{escape(_short(total))} of {escape(_short(limit))} {escape(unit)} in 24 h</text>',
        "</svg>"]
    return "".join(parts)


def _short(atoms: int) -> str:
    value = Decimal(atoms) / Decimal(10**18)
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value < 10**6 else f"{value:.3g}"
