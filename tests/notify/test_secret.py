"""The webhook secret: from the environment or the file, stripped; refused at start, in one
line that never holds the secret, when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_studio.notify import WebhookSecretError, load_webhook_secret
from session_studio.settings import ApprovalSettings, ConfigError


def approvals(secret_file: Path | None) -> ApprovalSettings:
    return ApprovalSettings(expire_after_s=3600, webhook_url="https://hooks.example/approvals",
                            webhook_secret_file=secret_file)


def test_the_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "webhook.secret"
    path.write_text("whsec_from_file\n")

    assert load_webhook_secret(approvals(path), {}) == "whsec_from_file"


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "webhook.secret"
    path.write_text("whsec_from_file")

    secret = load_webhook_secret(approvals(path),
                                 {"SESSION_STUDIO_WEBHOOK_SECRET": "whsec_from_env"})

    assert secret == "whsec_from_env"


def test_a_webhook_without_a_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="webhook_url is set but there is no secret"):
        load_webhook_secret(approvals(None), {})


def test_an_unreadable_secret_file_names_the_file_and_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "nope.secret"

    with pytest.raises(WebhookSecretError) as raised:
        load_webhook_secret(approvals(missing), {})

    assert str(raised.value) == (f"[approvals] webhook_secret_file {missing}: cannot be read "
                                 "(No such file or directory)")


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "webhook.secret"
    path.write_text("  \n")

    with pytest.raises(WebhookSecretError, match="is empty"):
        load_webhook_secret(approvals(path), {})


def test_a_file_that_is_not_text_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "webhook.secret"
    path.write_bytes(b"\xff\xfesecret-bytes")

    with pytest.raises(WebhookSecretError) as raised:
        load_webhook_secret(approvals(path), {})

    assert "secret-bytes" not in str(raised.value)
    assert "\n" not in str(raised.value)
