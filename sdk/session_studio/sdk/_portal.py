"""A private event loop in a daemon thread: how the sync classes run the async ones.

Why a thread rather than `asyncio.run` per call: aiohttp sessions and web3's async providers
belong to the loop that made them, so one long-lived loop keeps connections pooled across
calls; and a loop of our own works even when the caller is already inside a running loop (a
Jupyter cell, a sync helper called from async code), where `asyncio.run` refuses. Each sync
object owns its portal; nothing is shared between objects.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    """Runs coroutines on a private loop and waits for them from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="session-studio-sdk", daemon=True)
        self._thread.start()
        self._closed = False
        self._closing = False

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this client is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a sync SDK method was called from the SDK's own loop")
        try:
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        except concurrent.futures.CancelledError:
            if self._closing:
                raise RuntimeError("this client was closed during the call") from None
            raise

    def close(self, finaliser: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run `finaliser` (closing sessions) on the loop, then stop it; idempotent."""
        if self._closed:
            return
        # Calls other threads still wait on (a long `wait_for_approval`) end first: stopping
        # the loop under them would leave their threads blocked for ever.
        self._closing = True
        asyncio.run_coroutine_threadsafe(_cancel_others(), self._loop).result(timeout=10)
        try:
            if finaliser is not None:
                self.call(_awaited(finaliser))
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()


async def _awaited(factory: Callable[[], Awaitable[None]]) -> None:
    await factory()


async def _cancel_others() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
