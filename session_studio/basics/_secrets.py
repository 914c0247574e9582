"""The admin plane's bearer secrets: 32 random bytes with a prefix that says what they are.

Shown once and stored only as SHA-256, so a stolen database yields no usable link, cookie or
token. Shared by the admin service (which issues setup links and API tokens) and the admin
plane (which resolves cookies and bearer tokens).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

SETUP_PREFIX = "ssu_"
TOKEN_PREFIX = "ssa_"  # noqa: S105 - a prefix that names the secret's kind, not a secret


def new_secret(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
