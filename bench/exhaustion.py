"""Catalogue 14 in numbers: what the costliest bodies and typed data cost the sidecar.

1. Body parsing (`session_studio.basics._json.parse_json`, both planes) on the bodies that froze the
   old regex guard: escaped quotes behind more brackets than the cap, deep nesting, UTF-16.
   `--before` also times the old guard (its regex, copied here) on 10, 20 and 40 KB.
2. Typed data: the worst payloads within the policy's size bounds, each hashed by eth-account
   as the keystore does it (`LocalKeystore.encode_typed_data`), and the cost of refusing the
   attack payload (a few hundred types times tens of thousands of instances).

Run: `.venv/bin/python bench/exhaustion.py [--before]`. Results: bench/results/exhaustion.md.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from session_studio.policy import TypedDataTooLarge, Undecodable, decode_typed_data
from session_studio.policy._typed_data import (
    MAX_ARRAY_ITEMS,
    MAX_FIELDS,
    MAX_HASH_WORK,
    MAX_STRUCT_TYPES,
    MAX_VALUE_CHARS,
)

from session_studio.basics import JsonRejected, parse_json

sys.path.insert(0, "tests")
from policy.builders import ASSETS, CHAIN, CONTRACT, SENDER

CONTRACT_DOMAIN = {"chainId": CHAIN, "verifyingContract": CONTRACT}
DOMAIN_TYPES = [{"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}]


def best_of(fn: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


# -- 1. bodies -------------------------------------------------------------------------------
def escaped_quotes(size: int, brackets: int = 65) -> bytes:
    head = b"[" * brackets + b'"'
    return head + b'\\"' * ((size - len(head)) // 2)


_OLD_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OLD_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


def old_guard(body: bytes, limit: int) -> bool:
    """session_studio/_jsonguard.py as it was before catalogue 14."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _OLD_NOT_BRACKET.sub(b"", _OLD_STRING.sub(b"", body))
    depth = 0
    for char in brackets:
        depth += 1 if char in b"[{" else -1
        if depth > limit:
            return True
    return False


def refuse(body: bytes) -> None:
    try:
        parse_json(body, max_depth=64)
    except JsonRejected:
        return
    raise AssertionError("accepted")


def bodies(before: bool) -> None:
    print("## Bodies (parse_json, best of 5)")
    cases = {
        "escaped quotes 40 KB": escaped_quotes(40 * 1024),
        "escaped quotes 200 KB": escaped_quotes(200 * 1024),
        "escaped quotes 1 MiB": escaped_quotes(1024 * 1024),
        "[ x 500 000, ] x 500 000": b"[" * 500_000 + b"]" * 500_000,
        "UTF-16 [ x 120 000": ('["\\"", ' + "[" * 120_000 + ' "x"').encode("utf-16-le"),
    }
    for name, body in cases.items():
        print(f"- {name}: {best_of(lambda b=body: refuse(b)) * 1000:.2f} ms")
    if before:
        for kb in (10, 20, 40):
            body = escaped_quotes(kb * 1024)
            seconds = best_of(lambda b=body: old_guard(b, 64), 1)
            print(f"- old guard, escaped quotes {kb} KB: {seconds:.2f} s")


# -- 2. typed data ---------------------------------------------------------------------------
def payload(types: dict[str, list[tuple[str, str]]], primary: str,
            message: dict[str, Any]) -> dict[str, Any]:
    declared: dict[str, Any] = {"EIP712Domain": DOMAIN_TYPES}
    declared.update({name: [{"name": n, "type": t} for n, t in fields]
                     for name, fields in types.items()})
    return {"types": declared, "primaryType": primary, "domain": CONTRACT_DOMAIN,
            "message": message}


def empty_instances(n: int) -> dict[str, Any]:
    return payload({"Main": [("items", "E[]")], "E": []}, "Main", {"items": [{}] * n})


def wide_instances(n: int, fields: int) -> dict[str, Any]:
    names = [f"a{i}" for i in range(fields)]
    return payload({"Main": [("items", "E[]")], "E": [(f, "bool") for f in names]}, "Main",
                   {"items": [dict.fromkeys(names, True)] * n})


def chained_types(types: int, n: int, name_chars: int = 1) -> dict[str, Any]:
    field = "n" * name_chars
    declared: dict[str, list[tuple[str, str]]] = {"Main": [("items", "T0[]")]}
    for i in range(types - 1):
        declared[f"T{i}"] = [(field, f"T{i + 1}[]")]
    declared[f"T{types - 1}"] = []
    return payload(declared, "Main", {"items": [{field: []}] * n})


def atoms(n: int) -> dict[str, Any]:
    return payload({"Main": [("items", "uint256[][]")]}, "Main",
                   {"items": [[2**256 - 1] * 64] * n})


def long_strings(n: int) -> dict[str, Any]:
    return payload({"Main": [("items", "string[]")]}, "Main",
                   {"items": ["x" * MAX_VALUE_CHARS] * n})


def largest_accepted(build: Callable[[int], dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """The largest n for which `build(n)` passes the bounds (binary search)."""
    low, high = 0, 1 << 16
    while low < high:
        middle = (low + high + 1) // 2
        try:
            decoded = decode_typed_data(build(middle), ASSETS, sender=SENDER)
            assert not isinstance(decoded, Undecodable), decoded
            low = middle
        except TypedDataTooLarge:
            high = middle - 1
    return low, build(low)


def typed_data() -> None:
    from eth_account.messages import encode_typed_data

    print(f"\n## Typed data within the bounds (types {MAX_STRUCT_TYPES}, fields {MAX_FIELDS}, "
          f"array {MAX_ARRAY_ITEMS}, value {MAX_VALUE_CHARS} chars, work {MAX_HASH_WORK}):"
          " eth-account hashing, best of 5")
    shapes: dict[str, Callable[[int], dict[str, Any]]] = {
        "empty instances": empty_instances,
        "instances of 64 bool fields": lambda n: wide_instances(n, MAX_FIELDS),
        "instances of 16 bool fields": lambda n: wide_instances(n, 16),
        f"instances heading a chain of {MAX_STRUCT_TYPES - 1} types": lambda n: chained_types(
            MAX_STRUCT_TYPES - 1, n),
        "same, 200-char field names": lambda n: chained_types(MAX_STRUCT_TYPES - 1, n, 200),
        "arrays of 64 uint256": atoms,
        f"strings of {MAX_VALUE_CHARS} chars": long_strings,
    }
    for name, build in shapes.items():
        n, worst = largest_accepted(build)
        seconds = best_of(lambda w=worst: encode_typed_data(full_message=w))
        decode = best_of(lambda w=worst: decode_typed_data(w, ASSETS, sender=SENDER))
        print(f"- {name}: n = {n}: hash {seconds * 1000:.2f} ms, decode {decode * 1000:.2f} ms")
    attack = chained_types(300, 20_000)
    started = time.perf_counter()
    with contextlib.suppress(TypedDataTooLarge):
        decode_typed_data(attack, ASSETS, sender=SENDER)
    refused = time.perf_counter() - started
    thousand = best_of(lambda: encode_typed_data(full_message=chained_types(300, 1000)), 1)
    print(f"- attack (300 types x 20 000 instances) refused in {refused * 1000:.2f} ms; "
          f"hashing 1 000 of its instances takes {thousand:.2f} s")
    inside = chained_types(MAX_STRUCT_TYPES - 1, 50_000)
    started = time.perf_counter()
    with contextlib.suppress(TypedDataTooLarge):
        decode_typed_data(inside, ASSETS, sender=SENDER)
    print(f"- {MAX_STRUCT_TYPES - 1} types x 50 000 instances refused in "
          f"{(time.perf_counter() - started) * 1000:.2f} ms")


if __name__ == "__main__":
    bodies(before="--before" in sys.argv)
    typed_data()
