"""Approval notifications: the signed webhook that tells a person an approval is waiting
(issue 14), delivered from the store's outbox by a background loop of `serve`.

Receivers verify deliveries with `verify_signature` (docs/operations.md, "Approval webhook").
"""

from __future__ import annotations

from ._notifier import (
    DeliveryObserver,
    RetryPolicy,
    WebhookNotifier,
)
from ._secret import (
    WEBHOOK_SECRET_ENV_VAR,
    WebhookSecretError,
    load_webhook_secret,
)
from ._signature import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    verify_signature,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "WEBHOOK_SECRET_ENV_VAR",
    "DeliveryObserver",
    "RetryPolicy",
    "WebhookNotifier",
    "WebhookSecretError",
    "load_webhook_secret",
    "signature_header",
    "verify_signature",
]
