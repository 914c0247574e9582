"""The clock tests hand to the composition root (`Studio.open(..., clock=ManualClock())`), so
time passes when a test says so, never by sleeping."""

from __future__ import annotations

from dataclasses import dataclass

from session_studio._app import now_ms


@dataclass
class ManualClock:
    """Milliseconds since the epoch: the real time, plus whatever a test advanced it by.

    It keeps running from the real time rather than standing still so that records made one
    after the other keep their order (and their age on a page reads like a real one); `advance`
    is how a test lets an expiry, a step-up or a token window pass.
    """

    offset_ms: int = 0

    def __call__(self) -> int:
        return now_ms() + self.offset_ms

    def advance(self, ms: int) -> None:
        self.offset_ms += ms
