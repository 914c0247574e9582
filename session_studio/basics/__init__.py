"""Leaf helpers more than one room needs: the one body parser of both planes (capped,
linear-time JSON), the formats of the bearer secrets we issue (only hashes are stored), the
loop behind the few timers, and how an instant is written (`iso`). A leaf: it imports
nothing of `session_studio`.
"""

from __future__ import annotations

from ._credentials import (
    CredentialIssuer,
    credential_hash,
    looks_like_credential,
)
from ._json import (
    JsonRejected,
    dump_json,
    parse_json,
)
from ._periodic import (
    Periodic,
)
from ._secrets import (
    SETUP_PREFIX,
    TOKEN_PREFIX,
    new_secret,
    secret_hash,
)
from ._times import (
    iso,
)

__all__ = [
    "SETUP_PREFIX",
    "TOKEN_PREFIX",
    "CredentialIssuer",
    "JsonRejected",
    "Periodic",
    "credential_hash",
    "dump_json",
    "iso",
    "looks_like_credential",
    "new_secret",
    "parse_json",
    "secret_hash",
]
