"""The approval webhook against a real local receiver: what it sends, how it retries, and
that nothing (a failing or dead receiver, a second replica) makes it block, lose or repeat an
event, or show its secret."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from session_studio.store import SqliteStore

from session_studio.notify import RetryPolicy, WebhookNotifier, verify_signature

from .conftest import SECRET, Outbox, Receiver, now_ms

FAST = RetryPolicy(first_delay_s=0.01, max_delay_s=0.05, jitter=0)


class Results:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def webhook_delivery(self, result: str) -> None:
        self.seen.append(result)


def notifier(store: SqliteStore, url: str, *, retry: RetryPolicy = FAST,
             timeout_s: float = 1.0, observer: Results | None = None) -> WebhookNotifier:
    """A notifier polling every 10 ms, with millisecond backoff unless a test says otherwise."""
    return WebhookNotifier(store, url=url, secret=SECRET, clock=now_ms, observer=observer,
                           poll_interval_s=0.01, timeout_s=timeout_s, retry=retry)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_pending_approval_is_posted_with_a_signature_that_verifies(
        store: SqliteStore, outbox: Outbox, receiver: Receiver) -> None:
    event = outbox.add("approval.pending")
    sender = notifier(store, receiver.url)
    await sender.start()
    try:
        assert await sender.deliver_due() == 1
    finally:
        await sender.stop()

    [(headers, body)] = receiver.received
    assert body == outbox.row(event)["body"].encode()
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Session-Studio-Event"] == "approval.pending"
    assert headers["X-Session-Studio-Delivery"] == str(event)
    assert verify_signature(SECRET, headers["X-Session-Studio-Signature"], body, time.time())
    assert not verify_signature("another secret", headers["X-Session-Studio-Signature"], body,
                                time.time())
    assert outbox.row(event)["delivered_at"] is not None


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(
        store: SqliteStore, outbox: Outbox, receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    event = outbox.add()
    results = Results()
    sender = notifier(store, receiver.url, observer=results)
    await sender.start()
    try:
        await until(lambda: outbox.row(event)["delivered_at"] is not None)
    finally:
        await sender.stop()

    assert len(receiver.received) == 3
    assert results.seen == ["retried", "retried", "delivered"]
    assert outbox.row(event)["attempts"] == 3


async def test_the_backoff_doubles_from_one_second_up_to_five_minutes() -> None:
    policy = RetryPolicy(jitter=0)

    delays = [policy.delay_s(n, lambda: 0.5) for n in range(1, 12)]

    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_jitter_keeps_each_delay_within_its_band() -> None:
    policy = RetryPolicy(first_delay_s=10, jitter=0.2)

    assert (policy.delay_s(1, lambda: 0.0), policy.delay_s(1, lambda: 1.0)) == (8.0, 12.0)


async def test_an_event_is_given_up_after_the_last_attempt_and_kept_with_its_error(
        store: SqliteStore, outbox: Outbox, receiver: Receiver) -> None:
    receiver.statuses = [503] * 10
    event = outbox.add()
    results = Results()
    sender = notifier(store, receiver.url, observer=results,
                      retry=RetryPolicy(first_delay_s=0.01, jitter=0, max_attempts=3))
    await sender.start()
    try:
        await until(lambda: outbox.row(event)["failed_at"] is not None)
    finally:
        await sender.stop()

    row = outbox.row(event)
    assert (row["attempts"], row["last_error"], row["delivered_at"]) == (3, "HTTP 503", None)
    assert results.seen == ["retried", "retried", "failed"]
    assert len(receiver.received) == 3


async def test_a_hanging_receiver_costs_one_timeout_and_the_event_waits_for_its_retry(
        store: SqliteStore, outbox: Outbox, receiver: Receiver) -> None:
    receiver.hang = True
    event = outbox.add()
    sender = notifier(store, receiver.url, timeout_s=0.2,
                      retry=RetryPolicy(first_delay_s=60, jitter=0))
    await sender.start()
    try:
        started = time.monotonic()
        await sender.deliver_due()
        took = time.monotonic() - started
    finally:
        await sender.stop()

    assert took < 1.0
    row = outbox.row(event)
    assert (row["attempts"], row["delivered_at"], row["failed_at"]) == (1, None, None)
    assert row["next_attempt_at"] >= now_ms() + 50_000  # kept for its retry in a minute


async def test_a_dead_receiver_never_stops_the_loop(
        store: SqliteStore, outbox: Outbox) -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    event = outbox.add()
    sender = notifier(store, dead_url, retry=RetryPolicy(first_delay_s=0.01, jitter=0,
                                                          max_attempts=1000))
    await sender.start()
    try:
        await until(lambda: outbox.row(event)["attempts"] >= 3)  # the loop keeps going
    finally:
        await sender.stop()

    row = outbox.row(event)
    assert (row["delivered_at"], row["failed_at"]) == (None, None)
    assert "ClientConnectorError" in row["last_error"]


async def test_two_notifiers_on_one_database_deliver_each_event_once(
        store: SqliteStore, outbox: Outbox, receiver: Receiver, tmp_path: Path) -> None:
    events = [outbox.add() for _ in range(30)]
    replica = SqliteStore(tmp_path / "studio.db")  # a second `serve` on the same file
    await replica.open()
    first, second = notifier(store, receiver.url), notifier(replica, receiver.url)
    await first.start()
    await second.start()
    try:
        await until(lambda: all(outbox.row(e)["delivered_at"] is not None for e in events))
    finally:
        await first.stop()
        await second.stop()
        await replica.close()

    deliveries = Counter(headers["X-Session-Studio-Delivery"]
                         for headers, _ in receiver.received)
    assert deliveries == Counter({str(e): 1 for e in events})


async def test_neither_the_secret_nor_the_body_reaches_a_log_record(
        store: SqliteStore, outbox: Outbox, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    receiver.statuses = [500, 500]
    event = outbox.add()
    body = outbox.row(event)["body"]
    sender = notifier(store, receiver.url,
                      retry=RetryPolicy(first_delay_s=0.01, jitter=0, max_attempts=2))
    caplog.set_level(logging.DEBUG)
    await sender.start()
    try:
        await until(lambda: outbox.row(event)["failed_at"] is not None)
    finally:
        await sender.stop()

    notify_records = [r for r in caplog.records if r.name.startswith("session_studio.notify")]
    assert len(notify_records) == 2  # one retry, one give-up
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert SECRET not in text
        assert body not in text
    assert SECRET not in repr(sender)
