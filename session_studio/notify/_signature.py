"""The webhook's signature: `X-Session-Studio-Signature: t=<unix seconds>,v1=<hex HMAC>`.

The HMAC-SHA256, keyed with the shared secret, covers `"<t>.<body>"`: the body proves who
sent it and that nothing changed it, the timestamp inside the MAC lets a receiver refuse a
replay of an old delivery (Stripe's scheme, so receivers may already have the code).
`verify_signature` is what a receiver runs; it is pure, and short enough to copy
(docs/operations.md, "Approval webhook").
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Session-Studio-Signature"
EVENT_HEADER = "X-Session-Studio-Event"
DELIVERY_HEADER = "X-Session-Studio-Delivery"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def _raw(body: str | bytes) -> bytes:
    return body.encode() if isinstance(body, str) else body


def signature_header(secret: str, body: str | bytes, *, now_s: int) -> str:
    """The header value for `body` sent at `now_s` (unix seconds)."""
    return f"t={now_s},v1={_mac(secret, now_s, _raw(body))}"


def verify_signature(secret: str, header: str, body: str | bytes, now: float,
                     tolerance_s: float = 300) -> bool:
    """True when `header` signs exactly `body` with `secret` and its timestamp is within
    `tolerance_s` of `now` (unix seconds). Any malformed header is simply False."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    try:
        [timestamp_text] = fields.get("t", [])
        timestamp = int(timestamp_text)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False  # an old (replayed) or far-future delivery
    expected = _mac(secret, timestamp, _raw(body))
    # Constant-time: a byte-by-byte compare would tell an attacker how much of a guess is right.
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
