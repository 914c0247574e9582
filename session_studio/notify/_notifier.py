"""The approval webhook: delivers the outbox (`ApprovalOutbox`) to `[approvals] webhook_url`.

Why this shape:
- The event rows are written in the transactions that hold or decide an approval, whoever
  made them (`serve`, the CLI on the host); this loop, in every `serve`, only delivers. No
  request ever waits for a receiver: a slow or dead one delays notifications, nothing else.
- Several `serve`s may share the database: each event is claimed (a conditional UPDATE) for
  a little longer than one POST may take, so one process delivers it; a process that dies
  mid-POST leaves a claim that runs out, and another delivers it. Delivery is therefore at
  least once: receivers dedupe by `X-Session-Studio-Delivery` (the body's `event_id`).
- 2xx is delivered. Anything else (a 3xx too: a signed body is not forwarded to wherever a
  redirect points) or a network error is retried after 1 s, 2 s, 4 s ... (at most 5 min,
  with jitter so replicas and receivers recovering together are not hit in lockstep), and
  given up after `max_attempts`, kept in the table with its last error for the operator.
- Logs name the event id, kind and attempt, and the error; never the body (it describes a
  payment) nor the secret nor the URL (a webhook URL often carries a token of its own).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from session_studio.basics import Periodic
from session_studio.store import ApprovalEvent, ApprovalOutbox

from ._signature import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_header

log = logging.getLogger("session_studio.notify")

_ERROR_CHARS = 300  # of a network error's text kept in `last_error`


class DeliveryObserver(Protocol):
    def webhook_delivery(self, result: str) -> None:
        """One attempt's result: "delivered", "retried" or "failed" (given up)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff between attempts; tests pass milliseconds instead of seconds."""

    first_delay_s: float = 1.0
    max_delay_s: float = 300.0
    max_attempts: int = 10
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]

    def delay_s(self, failed_attempts: int, rand: Callable[[], float]) -> float:
        """The wait after the `failed_attempts`-th failure (1 -> first_delay_s)."""
        base = min(self.max_delay_s, self.first_delay_s * 2.0 ** (failed_attempts - 1))
        return base * (1 + self.jitter * (2 * rand() - 1))


class WebhookNotifier:
    """Polls the outbox and POSTs each due event, signed; start/stop with `serve`."""

    def __init__(self, outbox: ApprovalOutbox, *, url: str, secret: str,
                 clock: Callable[[], int], observer: DeliveryObserver | None = None,
                 poll_interval_s: float = 0.5, timeout_s: float = 5.0,
                 retry: RetryPolicy = RetryPolicy(), batch: int = 20,
                 rand: Callable[[], float] = random.random) -> None:
        self._outbox = outbox
        self._url = url
        self._secret = secret
        self._clock = clock
        self._observer = observer
        self._timeout_s = timeout_s
        self._retry = retry
        self._batch = batch
        self._rand = rand
        self._loop = Periodic("approval-webhook", poll_interval_s, self.deliver_due)
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the secret stays out of any repr a traceback might print
        return f"WebhookNotifier(batch={self._batch}, timeout_s={self._timeout_s})"

    async def start(self) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s))
        await self._loop.start()

    async def stop(self) -> None:
        """Stop polling; an event in flight keeps its claim, which runs out (at least once)."""
        await self._loop.stop()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def deliver_due(self) -> int:
        """Deliver what is due now, concurrently; how many were delivered. Never raises."""
        try:
            events = await self._outbox.due_approval_events(now_ms=self._clock(),
                                                            limit=self._batch)
        except Exception:
            # The database is down or busy: the events wait in the table, try next round.
            log.warning("approval webhook: could not read the outbox", exc_info=True)
            return 0
        results = await asyncio.gather(*(self._deliver(event) for event in events),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("approval webhook: a delivery could not be recorded: %s",
                            type(result).__name__)
        return sum(1 for result in results if result is True)

    async def _deliver(self, event: ApprovalEvent) -> bool:
        now = self._clock()
        # The claim outlives the POST's timeout, so it cannot run out while we still wait.
        until = now + int(self._timeout_s * 1000) * 2 + 1000
        if not await self._outbox.claim_approval_event(event.id, now_ms=now, until_ms=until):
            return False  # another process has it
        error = await self._post(event)
        attempts = event.attempts + 1
        if error is None:
            await self._outbox.approval_event_delivered(event.id, now_ms=self._clock())
            self._observe("delivered")
            return True
        if attempts >= self._retry.max_attempts:
            await self._outbox.approval_event_failed(event.id, now_ms=self._clock(),
                                                     error=error)
            log.error("approval webhook: event %d (%s) given up after %d attempts: %s",
                      event.id, event.kind, attempts, error)
            self._observe("failed")
            return False
        delay_s = self._retry.delay_s(attempts, self._rand)
        await self._outbox.approval_event_retry(
            event.id, attempts=attempts, next_attempt_ms=self._clock() + int(delay_s * 1000),
            error=error)
        log.warning("approval webhook: event %d (%s) attempt %d failed: %s; next in %.1f s",
                    event.id, event.kind, attempts, error, delay_s)
        self._observe("retried")
        return False

    async def _post(self, event: ApprovalEvent) -> str | None:
        """None when the receiver took it (2xx), else what went wrong, fit for a log line."""
        if self._http is None:
            return "notifier is not started"
        body = event.body.encode()
        headers = {"Content-Type": "application/json", EVENT_HEADER: event.kind,
                   DELIVERY_HEADER: str(event.id),
                   SIGNATURE_HEADER: signature_header(self._secret, body,
                                                      now_s=self._clock() // 1000)}
        try:
            async with self._http.post(self._url, data=body, headers=headers,
                                       allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            text = f"{type(exc).__name__}: {exc}".replace(self._url, "<webhook_url>")
            return text[:_ERROR_CHARS]

    def _observe(self, result: str) -> None:
        if self._observer is not None:
            self._observer.webhook_delivery(result)
