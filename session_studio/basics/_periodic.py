"""One background loop, for the few things `serve` does on a timer (usage flush, fleet
snapshot, scheduled rotation): start once, run `tick` every interval, stop by cancelling.

`tick` must not raise: each owner decides what a failure means for it (keep counts, keep the
last snapshot, retry next round) and logs it; a loop that died silently would stop the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(self, name: str, interval_s: float, tick: Callable[[], Awaitable[object]], *,
                 tick_first: bool = False) -> None:
        self._name = name
        self._interval = interval_s
        self._tick = tick
        self._tick_first = tick_first  # a round at once, then one every interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if self._tick_first:
            await self._tick()
        while True:
            await asyncio.sleep(self._interval)
            await self._tick()
