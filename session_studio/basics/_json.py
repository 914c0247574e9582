"""Request bodies to Python values, in linear time, for both planes (RPC and admin).

Why not `json.loads` behind a hand-written guard: py_ecc (imported through eth-account) raises
Python's recursion limit to 100000, so `json.loads` on `[[[[...` overflows the C stack and kills
the process, and the regex guard that used to scan bodies first was quadratic on escaped quotes
(a 40 KB body blocked the event loop for 6 s, a 200 KB one for minutes) and could be misled by a
UTF-16 body, which `json.loads` accepts. orjson parses without recursing on the C stack (it
stops at 1024 levels), in one pass, and accepts only strict UTF-8 (no BOM, no UTF-16, no lone
surrogates) and strict JSON (no NaN, Infinity or trailing commas). Our own, lower nesting cap is
then checked on the parsed value, also in one pass.

One difference from the standard library is kept out: orjson reads an integer beyond 64 bits as
a float, silently rounding it (a JSON-RPC id, or a typed-data uint256 written as a number). When
the parsed value holds a float, the body is parsed again with `json.loads`, which keeps integers
exact; by then the body is known to be valid UTF-8 JSON within the nesting cap, so that second
pass is linear too. Duplicate keys keep the last value in both parsers.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["JsonRejected", "dump_json", "parse_json"]

# orjson's own nesting limit: a body deeper than this is refused by the parser itself.
ORJSON_MAX_DEPTH = 1024


class JsonRejected(ValueError):
    """The text is not strict JSON or nests deeper than allowed; `str()` says which, briefly."""

    def __init__(self, reason: str, *, too_deep: bool = False) -> None:
        super().__init__(reason)
        self.too_deep = too_deep


def parse_json(text: bytes | str, *, max_depth: int) -> Any:
    """The value of `text`, refusing anything but strict UTF-8 JSON nested at most `max_depth`.

    Depth counts arrays and objects: `[]` is 1 level, `{"a": [1]}` 2.
    """
    if not 0 < max_depth <= ORJSON_MAX_DEPTH:
        raise ValueError(f"max_depth must be within 1..{ORJSON_MAX_DEPTH}")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise _too_deep(max_depth) from None
        raise JsonRejected(str(exc)) from None
    depth, holds_float = _shape(value)
    if depth > max_depth:
        raise _too_deep(max_depth)
    if holds_float:
        value = _exact(text)
    return value


def _too_deep(max_depth: int) -> JsonRejected:
    return JsonRejected(f"nested deeper than {max_depth} levels", too_deep=True)


def _shape(value: Any) -> tuple[int, bool]:
    """The nesting depth of a parsed value and whether it holds a float, without recursion."""
    deepest = 0
    holds_float = False
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            holds_float = holds_float or isinstance(item, float)
            continue
        depth += 1
        deepest = max(deepest, depth)
        pending.extend((child, depth) for child in children)
    return deepest, holds_float


def _exact(text: bytes | str) -> Any:
    """The standard library's reading, whose integers are exact (orjson has been through it)."""
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text,
                          parse_constant=_no_constant)
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise JsonRejected(str(exc)) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def dump_json(value: Any) -> bytes:
    """Compact JSON bytes of `value`: orjson, which is several times faster than the standard
    library on every answer the sidecar writes; the standard library where orjson refuses
    (an integer beyond 64 bits, which JSON-RPC values may be, or a non-string key), so what is
    written never depends on which encoder took it."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
