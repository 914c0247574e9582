"""The run-wide secret scan finds what a careless log line would leak, in any encoding."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import secret_scan

CREDENTIAL = "sst_" + "A1b2" * 10 + "xyz"
KEY = bytes(range(32))


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "secrets.txt"
    monkeypatch.setenv(secret_scan.ENV, str(path))
    secret_scan.record_credentials_in(f'{{"credential": "{CREDENTIAL}"}}')
    secret_scan.record([KEY])
    return path


def _log(tmp_path: Path, text: bytes) -> None:
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "serve-0.log").write_bytes(text)


def test_a_clean_log_has_no_leaks(tmp_path: Path, recorded: Path) -> None:
    _log(tmp_path, b'{"msg": "request", "method": "eth_sendTransaction"}\n')
    assert secret_scan.scan(tmp_path, recorded) == []


def test_a_credential_in_a_log_line_is_found(tmp_path: Path, recorded: Path) -> None:
    _log(tmp_path, f'{{"msg": "auth", "token": "{CREDENTIAL}"}}\n'.encode())
    assert [what for _, what in secret_scan.scan(tmp_path, recorded)] == ["sst_..."]


@pytest.mark.parametrize("encoded", [KEY.hex().encode(), KEY.hex().upper().encode(),
                                     base64.b64encode(KEY)])
def test_a_private_key_in_any_encoding_is_found(tmp_path: Path, recorded: Path,
                                                encoded: bytes) -> None:
    _log(tmp_path, b"debug key=" + encoded + b"\n")
    assert [what for _, what in secret_scan.scan(tmp_path, recorded)] == ["a private key"]
