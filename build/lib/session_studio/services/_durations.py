"""Durations as operators write them (`3600`, `45m`, `1h`, `7d`): the one parser behind the CLI
flags, the admin API's `Duration` fields, the pages (which post to the API) and agent
self-service, so `7d` means the same number of seconds at every door."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class DurationError(ValueError):
    """Not a duration: a number of seconds, or a number followed by s, m, h or d."""


def parse_duration(text: str) -> int:
    """`7d` -> 604800 seconds; surrounding blanks are ignored.

    Zero parses (as 0): whether zero is allowed is the caller's rule, checked with the rest of
    its bounds (a session lifetime, a token lifetime, a rotation interval)."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise DurationError(f"expected e.g. 3600, 45m, 1h or 7d, got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]
