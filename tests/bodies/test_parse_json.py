"""session_studio.basics._json.parse_json, the one body parser of both planes: strict UTF-8 JSON in
linear time, a nesting cap of the caller's choosing, integers exact."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_studio.basics import JsonRejected, parse_json

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(JSON_VALUES)
def test_reads_what_the_standard_library_reads(value: Any) -> None:
    text = json.dumps(value)
    assert parse_json(text.encode(), max_depth=64) == json.loads(text)
    assert parse_json(text, max_depth=64) == json.loads(text)


@given(JSON_VALUES, st.integers(min_value=1, max_value=8))
def test_nesting_cap_counts_arrays_and_objects(value: Any, cap: int) -> None:
    text = json.dumps(value).encode()
    if _depth(value) <= cap:
        assert parse_json(text, max_depth=cap) == json.loads(text)
    else:
        with pytest.raises(JsonRejected) as refused:
            parse_json(text, max_depth=cap)
        assert refused.value.too_deep


def test_integers_beyond_64_bits_stay_exact() -> None:
    # orjson alone would read these as rounded floats: a typed-data uint256, a JSON-RPC id.
    for number in (2**64, 2**70 + 1, 2**256 - 1, -(2**63) - 1):
        assert parse_json(f'{{"id": {number}, "x": [1.5]}}'.encode(), max_depth=4) == {
            "id": number, "x": [1.5]}


@pytest.mark.parametrize("body", [
    b"NaN", b"[Infinity]", b"[-Infinity]", b'{"a":1,}', b"", b"\xff", b'"\xed\xa0\x80"',
    b'"\\ud800"', b"\xef\xbb\xbf{}", "[1]".encode("utf-16-le"), "[1]".encode("utf-16"), b"1e400",
], ids=repr)
def test_refuses_anything_but_strict_utf8_json(body: bytes) -> None:
    with pytest.raises(JsonRejected):
        parse_json(body, max_depth=64)


def test_duplicate_keys_keep_the_last_value() -> None:
    assert parse_json(b'{"a": 1, "a": 2}', max_depth=1) == {"a": 2}
    assert parse_json(b'{"a": 1, "a": 2.5}', max_depth=1) == {"a": 2.5}


@pytest.mark.parametrize("depth", [65, 1025, 100_000])
def test_deep_nesting_is_refused_without_recursion(depth: int) -> None:
    with pytest.raises(JsonRejected) as refused:
        parse_json(b"[" * depth + b"]" * depth, max_depth=64)
    assert refused.value.too_deep


def test_escaped_quotes_cost_linear_time() -> None:
    # The old guard took 6 s here for 40 KB and minutes for 200 KB (bench/exhaustion.py).
    body = b"[" * 65 + b'"' + b'\\"' * 500_000
    started = time.perf_counter()
    with pytest.raises(JsonRejected):
        parse_json(body, max_depth=64)
    assert time.perf_counter() - started < 1.0
