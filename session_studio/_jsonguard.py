"""A guard against deeply nested JSON, shared by the RPC and admin planes.

py_ecc (imported through eth-account) raises Python's recursion limit to 100000, so json.loads on
`[[[[...` no longer raises RecursionError but overflows the C stack and kills the process (both
planes share it). Every body is checked with this before json.loads.
"""

from __future__ import annotations

import re

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects nest deeper than `limit`, without recursing.

    Why: py_ecc (imported through eth-account) raises Python's recursion limit to 100000, so
    json.loads on `[[[[...` no longer raises RecursionError but overflows the C stack and kills
    the process. Counting brackets is C-speed; the exact scan runs only for bodies with many.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", body))
    depth = 0
    for char in brackets:
        depth += 1 if char in b"[{" else -1
        if depth > limit:
            return True
    return False
