"""`session-studio sessions rotate | export`: a new key in the same policy, and the agent config."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import INVENTORY, Inventory, Studio

# Every call is a `python -m session_studio.cli` process (conftest.py).
pytestmark = pytest.mark.e2e

HEX_32_BYTES = re.compile(r"(0x)?[0-9a-fA-F]{64}")
EXPORT_FIELDS = {"rpc_url", "credential", "address", "key_hash", "chain_ids", "tokens", "limits",
                 "expires_at", "label", "agent"}
POLICY_FIELDS = ("type", "label", "agent", "chain_ids", "permissions", "tokens", "limits")


@dataclass(frozen=True)
class Rotation:
    original: dict[str, Any]
    successor: dict[str, Any]
    original_shown: dict[str, Any]
    exported: dict[str, Any]
    rotate_again: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def rotation(studio: Studio, bot: dict[str, Any]) -> Rotation:
    original = studio.create_session(label="rotate-me", type="agent", agent=bot["name"],
                                     per_tx="2.5", daily="20", expires_in="30d")
    successor = studio.json("sessions", "rotate", original["key_hash"])
    return Rotation(
        original=original, successor=successor,
        original_shown=studio.json("sessions", "show", original["key_hash"]),
        exported=studio.json("sessions", "export", successor["key_hash"]),
        rotate_again=studio.run("sessions", "rotate", original["key_hash"]))


def strings_in(value: Any) -> Iterator[tuple[str, str]]:
    """(path, string) for every string anywhere in a JSON value, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{key}(key)", key
            for path, text in strings_in(item):
                yield f"{key}.{path}", text
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for path, text in strings_in(item):
                yield f"[{i}].{path}", text
    elif isinstance(value, str):
        yield "", value


def test_rotation_returns_a_new_key_hash(rotation: Rotation) -> None:
    assert rotation.successor["key_hash"] != rotation.original["key_hash"]


def test_rotation_returns_a_new_address(rotation: Rotation) -> None:
    assert rotation.successor["address"] != rotation.original["address"]


def test_rotated_predecessor_shows_as_revoked(rotation: Rotation) -> None:
    assert rotation.original_shown["status"] == "revoked"


def test_rotation_keeps_the_policy(rotation: Rotation) -> None:
    assert ({f: rotation.successor[f] for f in POLICY_FIELDS}
            == {f: rotation.original[f] for f in POLICY_FIELDS})


def test_rotation_prints_an_artifact_shaped_like_create(rotation: Rotation) -> None:
    assert set(rotation.successor) == set(rotation.original)


def test_rotating_an_already_rotated_session_exits_1(rotation: Rotation) -> None:
    assert rotation.rotate_again.returncode == 1


def test_export_of_an_agent_session_carries_the_agent_credential(
    rotation: Rotation, bot: dict[str, Any],
) -> None:
    assert rotation.exported["credential"] == bot["credential"]


def test_export_of_an_agent_session_has_every_contract_field(rotation: Rotation) -> None:
    assert set(rotation.exported) >= EXPORT_FIELDS


def test_export_repeats_the_rotation_artifact(rotation: Rotation) -> None:
    assert rotation.exported == rotation.successor


def test_export_holds_no_32_byte_hex_value_but_the_key_hash(rotation: Rotation) -> None:
    hexes = [(path, text) for path, text in strings_in(rotation.exported)
             if HEX_32_BYTES.fullmatch(text)]
    assert hexes == [("key_hash.", rotation.exported["key_hash"])]


def test_export_names_no_key_material_field(rotation: Rotation) -> None:
    names = [path for path, _ in strings_in(rotation.exported) if path.endswith("(key)")]
    assert not [n for n in names if re.search(r"private|secret|seed|mnemonic|sealed", n, re.I)]


def test_rotating_an_expired_session_does_not_revive_it(studio: Studio,
                                                        inventory: Inventory) -> None:
    # The inventory's expired session; its listings were all taken when the fixture ran.
    result = studio.run("sessions", "rotate", inventory.expired["key_hash"], "--json",
                        workspace=INVENTORY)
    assert result.returncode == 1 or (
        json.loads(result.stdout)["expires_at"] <= inventory.expired["expires_at"])
