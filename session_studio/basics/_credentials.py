"""Bearer credentials: derived from the master key, stored only as hashes.

A credential is HMAC-SHA256(k, "<kind>:<owner id>:<version>") with k derived from the master
key, so `export` can show the same token again without the database ever holding it, and
bumping the version reissues it (the old hash is revoked). The database keeps SHA-256(token) for
lookup: a stolen database yields no usable credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

PREFIX = "sst_"  # recognisable in secret scanners and logs
# 32 bytes of HMAC in url-safe base64 without padding: 43 ASCII characters.
_SHAPE = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class CredentialIssuer:
    """Computes credentials; holds a derived key, never the master key itself."""

    key: bytes

    def __repr__(self) -> str:
        return "CredentialIssuer(<redacted>)"

    def token_for(self, kind: str, owner_id: str, version: int) -> str:
        mac = hmac.new(self.key, f"{kind}:{owner_id}:{version}".encode(), hashlib.sha256)
        return PREFIX + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def credential_hash(token: str) -> bytes:
    """What the database stores and looks up for a presented token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def looks_like_credential(token: str) -> bool:
    """Cheap shape check before any database lookup (43 url-safe base64 chars after the prefix)."""
    return _SHAPE.fullmatch(token) is not None
