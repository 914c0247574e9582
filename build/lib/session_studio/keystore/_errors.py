"""The keystore's exception tree.

    KeystoreError                 base: anything the keystore refuses or cannot do
    ├── MasterKeyError            the master key is missing, exposed (file mode) or malformed
    ├── KeyUnsealError            a sealed key does not open here (wrong master key, tampered
    │                             blob, blob of another session/workspace, unknown version)
    ├── KeyDestroyedError         the key was crypto-shredded on revoke; nothing left to sign with
    └── SigningRefusedError       the request itself is refused before or while signing
                                  (no chain id, EIP-7702, `from` mismatch, unencodable input)

Why a tree: callers answer differently. A `SigningRefusedError` is the caller's mistake and can
be reported as such; a `KeyDestroyedError` means "revoked"; `MasterKeyError` and
`KeyUnsealError` are operator problems (wrong key deployed, database tampered with) that must be
logged and answered as an internal error.

Messages never contain key bytes (private keys, data keys, the master key, in hex, base64 or
any other form). Every `raise` in this package either builds its message from non-secret facts
(lengths, paths, versions, field names) or is raised outside the `except` block that caught a
lower-level error, so no traceback frame holding a key hangs off `__context__`.
"""

from __future__ import annotations

__all__ = [
    "KeyDestroyedError",
    "KeyUnsealError",
    "KeystoreError",
    "MasterKeyError",
    "SigningRefusedError",
]


class KeystoreError(Exception):
    """Base of every keystore failure; its message is safe to log."""


class MasterKeyError(KeystoreError):
    """The master key cannot be used: missing, readable by others, not base64, not 32 bytes."""


class KeyUnsealError(KeystoreError):
    """A sealed key does not open under this master key and this session's context."""


class KeyDestroyedError(KeystoreError):
    """The session's key material was destroyed (revoked); signing is impossible by design."""


class SigningRefusedError(KeystoreError):
    """The keystore refuses to sign this request, whatever the policy engine decided.

    Defense in depth: the policy engine already refuses these, but the keystore is the last
    place that can, and it must not depend on every caller having asked the engine first.
    """
