"""The master key: where it comes from, how it is protected on disk, and what is derived from it.

Everything secret in Session Studio hangs off one 32-byte master key: the key-encryption key
that wraps every session key (see `_envelope`), and any other subkey a module asks for with
`MasterKey.derive` (the credential module's HMAC key, for instance). Subkeys are independent
HKDF-SHA256 outputs, so leaking one (say, an HMAC key) reveals nothing about the others.

Sources, in order of precedence:

1. `SESSION_STUDIO_MASTER_KEY` in the environment: base64 of 32 bytes. Wins when present, so
   container deployments can inject it from a secret store without a file.
2. A file holding the same base64 text (a trailing newline is fine). It must not be readable by
   group or others, the same rule ssh applies to private keys: a key that other local users
   could have read is refused rather than trusted.

`MasterKey` is opaque: it never shows its bytes in `repr`/`str` and refuses to be pickled, so it
cannot leak through a log line, a debug dump or a multiprocessing queue by accident.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._errors import MasterKeyError

__all__ = [
    "MASTER_KEY_ENV_VAR",
    "MasterKey",
    "create_master_key_file",
    "derive_internal_key",
    "load_master_key",
]

MASTER_KEY_ENV_VAR = "SESSION_STUDIO_MASTER_KEY"
MASTER_KEY_LENGTH = 32
_DERIVED_KEY_LENGTH = 32
_INFO_PREFIX = "session-studio/"
# Purposes under this prefix belong to the keystore itself (the key-encryption key). Refusing
# them in the public `derive` guarantees no other module can obtain the KEK, even by mistake.
_RESERVED_PURPOSE_PREFIX = "keystore/"
# A base64 line for 32 bytes is 44 characters; anything far larger is not a key file, and
# reading it whole (a log file configured by mistake, /dev/zero) would be a denial of service.
_MAX_KEY_FILE_BYTES = 1024
# Group and other permission bits: any of them set means someone besides the owner can read.
_GROUP_OTHER_BITS = 0o077


class MasterKey:
    """The 32-byte root secret. Opaque on purpose: no accessor returns the raw bytes."""

    __slots__ = ("_raw",)

    _raw: bytes

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes):
            raise MasterKeyError("master key must be bytes")
        if len(raw) != MASTER_KEY_LENGTH:
            raise MasterKeyError(
                f"master key must be exactly {MASTER_KEY_LENGTH} bytes, got {len(raw)}"
            )
        self._raw = raw

    @classmethod
    def from_bytes(cls, raw: bytes) -> MasterKey:
        """Wrap exactly 32 raw bytes; anything else is a `MasterKeyError`."""
        return cls(raw)

    def derive(self, purpose: str) -> bytes:
        """Return a 32-byte subkey for `purpose`: HKDF-SHA256, info=f"session-studio/{purpose}".

        Each purpose yields an independent key, so modules never share key material. Purposes
        starting with "keystore/" are reserved for the keystore's own keys and refused here.
        """
        if not isinstance(purpose, str) or not purpose:
            raise ValueError("purpose must be a non-empty string")
        if purpose.startswith(_RESERVED_PURPOSE_PREFIX):
            raise ValueError(f"purposes starting with {_RESERVED_PURPOSE_PREFIX!r} are reserved")
        return self._hkdf(purpose)

    def _hkdf(self, purpose: str) -> bytes:
        # No salt: the master key is already uniformly random, which is the case RFC 5869
        # (section 3.1) says HKDF handles without one; the info string does the separation.
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=_DERIVED_KEY_LENGTH,
            salt=None,
            info=(_INFO_PREFIX + purpose).encode("utf-8"),
        )
        return hkdf.derive(self._raw)

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        # Pickling would write the key into whatever the pickle lands in (a cache, a task
        # queue, a crash dump); there is no legitimate reason to ship it between processes.
        raise TypeError("MasterKey cannot be pickled")

    def __copy__(self) -> MasterKey:
        # Immutable, so a copy is the same object; defined so copy() does not hit __reduce_ex__.
        return self

    def __deepcopy__(self, memo: object) -> MasterKey:
        return self


def derive_internal_key(master: MasterKey, purpose: str) -> bytes:
    """Derive one of the keystore's own keys ("keystore/..."), which `derive` refuses to give out.

    Package-private: only `_envelope` calls it, for the key-encryption key.
    """
    if not purpose.startswith(_RESERVED_PURPOSE_PREFIX):
        raise ValueError(f"internal purposes must start with {_RESERVED_PURPOSE_PREFIX!r}")
    return master._hkdf(purpose)


def load_master_key(*, path: Path | None, env: Mapping[str, str]) -> MasterKey:
    """Load the master key from `env["SESSION_STUDIO_MASTER_KEY"]` if present, else from `path`.

    `env` is passed in (not read from `os.environ`) because configuration is parsed once at
    start-up; nothing in the keystore reads the environment behind the caller's back.
    A variable that is present but empty is an error rather than a silent fall-back to the
    file: an operator who set it meant it.
    """
    encoded = env.get(MASTER_KEY_ENV_VAR)
    if encoded is not None:
        return MasterKey(_decode_base64_key(encoded, source=MASTER_KEY_ENV_VAR))
    if path is None:
        raise MasterKeyError(
            f"no master key: set {MASTER_KEY_ENV_VAR} or configure a master key file"
        )
    return MasterKey(_decode_base64_key(_read_key_file(path), source=f"master key file {path}"))


def create_master_key_file(path: Path) -> None:
    """Write a new random master key to `path` as base64 text, readable by the owner only.

    The file is created with O_CREAT|O_EXCL and mode 0o600 in the same system call, so it is
    never readable by others, not even between creation and a later chmod, and an existing key
    (which every sealed session key depends on) is never overwritten. O_EXCL also refuses a
    symlink planted at `path`.
    """
    payload = base64.b64encode(secrets.token_bytes(MASTER_KEY_LENGTH)) + b"\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    failure: str | None = None
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        failure = f"refusing to overwrite existing master key file {path}"
    except FileNotFoundError:
        failure = f"cannot create master key file {path}: directory does not exist"
    except OSError as exc:
        failure = f"cannot create master key file {path}: {exc.strerror}"
    if failure is not None:
        raise MasterKeyError(failure)

    try:
        # The umask can only remove bits from 0o600; fchmod makes the mode exactly 0o600
        # so the owner can always read the key back.
        os.fchmod(fd, 0o600)
        _write_all(fd, payload)
        # Losing the master key loses every session key: make it durable before returning.
        os.fsync(fd)
    except OSError as exc:
        failure = f"cannot write master key file {path}: {exc.strerror}"
    finally:
        os.close(fd)
    if failure is not None:
        # A half-written key file would later fail to load, or worse, be mistaken for a key.
        path.unlink(missing_ok=True)
        raise MasterKeyError(failure)
    _fsync_directory(path.parent)


def _decode_base64_key(encoded: str, *, source: str) -> bytes:
    """Decode strict base64 of exactly 32 bytes; errors name the source, never the value."""
    text = encoded.strip()
    if not text:
        raise MasterKeyError(f"{source} is empty; it must hold base64 of 32 bytes")
    raw: bytes | None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raw = None
    # Raised outside the except block so no frame holding the text is chained to the error.
    if raw is None:
        raise MasterKeyError(f"{source} is not valid base64")
    if len(raw) != MASTER_KEY_LENGTH:
        raise MasterKeyError(
            f"{source} must hold base64 of exactly {MASTER_KEY_LENGTH} bytes, "
            f"it decodes to {len(raw)}"
        )
    return raw


def _read_key_file(path: Path) -> str:
    """Read the key file's text after checking, on the opened descriptor, that it is private.

    Checking with fstat on the descriptor we read from (not stat on the path) leaves no window
    for the file to be swapped between the check and the read. Symlinks are followed on
    purpose: Kubernetes and Docker mount secrets as symlinks; the mode of the target counts.
    """
    failure: str | None = None
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang start-up; no effect on files.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        failure = f"master key file not found: {path} (create one, or set {MASTER_KEY_ENV_VAR})"
    except PermissionError:
        failure = f"cannot read master key file {path}: permission denied"
    except OSError as exc:
        failure = f"cannot open master key file {path}: {exc.strerror}"
    if failure is not None:
        raise MasterKeyError(failure)

    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise MasterKeyError(f"master key file {path} is not a regular file")
        if status.st_mode & _GROUP_OTHER_BITS:
            mode = stat.S_IMODE(status.st_mode)
            raise MasterKeyError(
                f"master key file {path} is accessible by group or others (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        content = _read_at_most(fd, _MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(content) > _MAX_KEY_FILE_BYTES:
        raise MasterKeyError(f"master key file {path} is too large to be a key file")
    try:
        return content.decode("ascii")
    except UnicodeDecodeError:
        pass
    raise MasterKeyError(f"master key file {path} is not base64 text")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    """Persist the new directory entry too; best effort, as some filesystems refuse it."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
