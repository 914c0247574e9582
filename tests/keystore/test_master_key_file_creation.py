"""create_master_key_file: a fresh random key, owner-only from the first instant, never
overwriting an existing key (every sealed session key depends on it)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from session_studio.keystore import (
    KeyContext,
    LocalKeystore,
    MasterKeyError,
    create_master_key_file,
    load_master_key,
)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 0: the mode must come from the open() call itself, not from a friendly umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_created_file_is_owner_read_write_only(tmp_path: Path) -> None:
    path = tmp_path / "master.key"

    create_master_key_file(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_created_file_holds_base64_of_32_bytes_and_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "master.key"

    create_master_key_file(path)

    text = path.read_text()
    assert text.endswith("\n")
    assert len(base64.b64decode(text.strip(), validate=True)) == 32


def test_created_file_loads_and_seals(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    ctx = KeyContext(workspace_id="ws", session_id="sess")

    keystore = LocalKeystore(load_master_key(path=path, env={}))
    sealed = keystore.generate(ctx).sealed

    assert len(keystore.sign_personal_message(sealed, ctx, b"x")) == 65


def test_each_created_key_is_different(tmp_path: Path) -> None:
    first, second = tmp_path / "a.key", tmp_path / "b.key"

    create_master_key_file(first)
    create_master_key_file(second)

    assert first.read_text() != second.read_text()


def test_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    original = path.read_bytes()

    with pytest.raises(MasterKeyError, match="refusing to overwrite"):
        create_master_key_file(path)

    assert path.read_bytes() == original


def test_symlink_at_the_path_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "master.key"
    link.symlink_to(target)

    with pytest.raises(MasterKeyError, match="refusing to overwrite"):
        create_master_key_file(link)

    assert not target.exists()


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "master.key"

    with pytest.raises(MasterKeyError, match="directory does not exist"):
        create_master_key_file(path)
