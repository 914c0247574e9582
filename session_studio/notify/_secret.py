"""The webhook's HMAC secret, read once at start.

`SESSION_STUDIO_WEBHOOK_SECRET` wins when set (a container injects it from its secret store),
else `[approvals] webhook_secret_file`; surrounding whitespace (the file's newline) is not
part of it. A webhook without a secret is refused at start: unsigned notifications would let
anyone who can reach the receiver forge "approval pending" messages that send a person to
approve something. The secret never appears in an error, a log line or a metric.
"""

from __future__ import annotations

from collections.abc import Mapping

from session_studio.settings import ApprovalSettings, ConfigError

WEBHOOK_SECRET_ENV_VAR = "SESSION_STUDIO_WEBHOOK_SECRET"  # noqa: S105 - a variable's name


class WebhookSecretError(ConfigError):
    """No usable webhook secret; one line, shown by the CLI like any configuration error."""


def load_webhook_secret(settings: ApprovalSettings, env: Mapping[str, str]) -> str:
    from_env = env.get(WEBHOOK_SECRET_ENV_VAR, "").strip()
    if from_env:
        return from_env
    path = settings.webhook_secret_file
    if path is None:
        raise WebhookSecretError(
            "[approvals] webhook_url is set but there is no secret to sign with: set "
            f"webhook_secret_file or ${WEBHOOK_SECRET_ENV_VAR}")
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        # The reason only (not found, permission denied), never the content.
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise WebhookSecretError(
            f"[approvals] webhook_secret_file {path}: cannot be read ({reason})") from None
    if not secret:
        raise WebhookSecretError(f"[approvals] webhook_secret_file {path} is empty")
    return secret
