"""Loading the master key: env var first, else a private (0600 or stricter) base64 file."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from session_studio.keystore import (
    KeyContext,
    LocalKeystore,
    MasterKey,
    MasterKeyError,
    load_master_key,
)

ENV = "SESSION_STUDIO_MASTER_KEY"
CTX = KeyContext(workspace_id="ws-master", session_id="sess-master")


def _write_key_file(path: Path, raw: bytes, *, mode: int = 0o600, suffix: str = "\n") -> Path:
    path.write_text(base64.b64encode(raw).decode() + suffix)
    path.chmod(mode)
    return path


def _assert_same_key(a: MasterKey, b: MasterKey) -> None:
    """Two master keys are the same if a blob sealed under one opens under the other."""
    sealed = LocalKeystore(a).generate(CTX).sealed
    LocalKeystore(b).sign_personal_message(sealed, CTX, b"x")


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_is_loaded(tmp_path: Path, mode: int) -> None:
    raw = os.urandom(32)
    path = _write_key_file(tmp_path / "master.key", raw, mode=mode)

    loaded = load_master_key(path=path, env={})

    _assert_same_key(loaded, MasterKey.from_bytes(raw))


@pytest.mark.parametrize("suffix", ["", "\n", "\r\n", "  \n"])
def test_key_file_trailing_whitespace_is_accepted(tmp_path: Path, suffix: str) -> None:
    raw = os.urandom(32)
    path = _write_key_file(tmp_path / "master.key", raw, suffix=suffix)

    _assert_same_key(load_master_key(path=path, env={}), MasterKey.from_bytes(raw))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o610])
def test_key_file_readable_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write_key_file(tmp_path / "master.key", os.urandom(32), mode=mode)

    with pytest.raises(MasterKeyError) as excinfo:
        load_master_key(path=path, env={})

    assert f"chmod 600 {path}" in str(excinfo.value)


def test_missing_key_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "master.key"

    with pytest.raises(MasterKeyError, match="not found") as excinfo:
        load_master_key(path=path, env={})

    assert str(path) in str(excinfo.value)


def test_directory_instead_of_key_file_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "master.key"
    directory.mkdir(mode=0o700)

    with pytest.raises(MasterKeyError, match="regular file"):
        load_master_key(path=directory, env={})


def test_symlinked_key_file_is_followed(tmp_path: Path) -> None:
    # Kubernetes and Docker mount secrets as symlinks; the target's mode is what counts.
    raw = os.urandom(32)
    target = _write_key_file(tmp_path / "target.key", raw)
    link = tmp_path / "master.key"
    link.symlink_to(target)

    _assert_same_key(load_master_key(path=link, env={}), MasterKey.from_bytes(raw))


@pytest.mark.parametrize("content", ["not base64!!", "AAAA", "", "é" * 44, "QUJD" * 300])
def test_key_file_without_32_bytes_of_base64_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "master.key"
    path.write_text(content)
    path.chmod(0o600)

    with pytest.raises(MasterKeyError, match="master key file"):
        load_master_key(path=path, env={})


def test_env_var_wins_over_the_file(tmp_path: Path) -> None:
    env_raw, file_raw = os.urandom(32), os.urandom(32)
    path = _write_key_file(tmp_path / "master.key", file_raw)

    loaded = load_master_key(path=path, env={ENV: base64.b64encode(env_raw).decode()})

    _assert_same_key(loaded, MasterKey.from_bytes(env_raw))


def test_env_var_is_used_without_a_file() -> None:
    raw = os.urandom(32)

    loaded = load_master_key(path=None, env={ENV: base64.b64encode(raw).decode() + "\n"})

    _assert_same_key(loaded, MasterKey.from_bytes(raw))


def test_env_var_with_31_bytes_is_refused() -> None:
    with pytest.raises(MasterKeyError, match="32 bytes"):
        load_master_key(path=None, env={ENV: base64.b64encode(os.urandom(31)).decode()})


@settings(max_examples=50)
@given(raw=st.binary(max_size=96).filter(lambda b: len(b) != 32))
def test_env_var_of_any_other_length_is_refused(raw: bytes) -> None:
    with pytest.raises(MasterKeyError, match=ENV):
        load_master_key(path=None, env={ENV: base64.b64encode(raw).decode()})


@pytest.mark.parametrize(
    "value", ["", "   ", "%%%", base64.urlsafe_b64encode(b"\xfb" * 32).decode()]
)
def test_env_var_that_is_not_standard_base64_is_refused(value: str) -> None:
    with pytest.raises(MasterKeyError, match=ENV):
        load_master_key(path=None, env={ENV: value})


def test_no_env_var_and_no_path_is_refused() -> None:
    with pytest.raises(MasterKeyError, match=ENV):
        load_master_key(path=None, env={"UNRELATED": "x"})


@settings(max_examples=30)
@given(raw=st.binary(max_size=64).filter(lambda b: len(b) != 32))
def test_master_key_from_bytes_requires_exactly_32_bytes(raw: bytes) -> None:
    with pytest.raises(MasterKeyError, match="32 bytes"):
        MasterKey.from_bytes(raw)
