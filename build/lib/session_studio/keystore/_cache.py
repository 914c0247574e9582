"""A bounded, thread-safe LRU of unsealed keys, so repeated signs skip two AES-GCM decryptions.

An entry is found only by (workspace_id, session_id) *and* the digest of the sealed blob the
caller presents. The digest is what keeps the cache subordinate to the database: the caller
reads the sealed blob from its session row on every sign, so once a revoke has shredded that
blob (NULL/empty) or a rotation has replaced it, the old entry can no longer be reached, in this
process or any other, even before `forget` runs. `forget` then frees the memory promptly.

One entry per session (a new digest replaces the old one) keeps `forget` O(1) and the bound
meaningful. The cache never hands out or prints what it holds beyond what its caller put in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from ._models import KeyContext

__all__ = ["UnsealedKeyCache"]

_V = TypeVar("_V")


class UnsealedKeyCache(Generic[_V]):
    """LRU map (workspace_id, session_id) -> (sealed-blob digest, value), at most `capacity`."""

    __slots__ = ("_capacity", "_entries", "_lock")

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("cache capacity must be zero (disabled) or positive")
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[bytes, _V]] = OrderedDict()
        # Signing may run on several executor threads; OrderedDict reordering is not atomic.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        # Never the entries: they are unsealed keys.
        return f"UnsealedKeyCache(capacity={self._capacity}, size={len(self)})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, ctx: KeyContext, digest: bytes) -> _V | None:
        """The value cached for `ctx` if it was unsealed from a blob with this digest."""
        slot = (ctx.workspace_id, ctx.session_id)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None or entry[0] != digest:
                return None
            self._entries.move_to_end(slot)
            return entry[1]

    def put(self, ctx: KeyContext, digest: bytes, value: _V) -> None:
        """Remember `value` for `ctx` and this blob digest, evicting the least recently used."""
        if self._capacity == 0:
            return
        slot = (ctx.workspace_id, ctx.session_id)
        with self._lock:
            self._entries[slot] = (digest, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def forget(self, ctx: KeyContext) -> None:
        """Drop whatever is cached for `ctx`; a no-op when nothing is."""
        with self._lock:
            self._entries.pop((ctx.workspace_id, ctx.session_id), None)
