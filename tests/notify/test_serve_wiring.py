"""`serve` with `[approvals] webhook_url`: the secret is required at start, and a running
server delivers the outbox and shows the approval series on /metrics (never the secret)."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from pathlib import Path

import aiohttp
import pytest
from offline_config import chains_toml
from prometheus_client import generate_latest

from session_studio._app import Studio, start_server
from session_studio.notify import WebhookSecretError, verify_signature
from session_studio.settings import load_settings

from .conftest import SECRET, Outbox, Receiver

MASTER_ENV = {"SESSION_STUDIO_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}


def write_config(root: Path, webhook_url: str, *, secret_file: bool) -> Path:
    approvals = f'[approvals]\nwebhook_url = "{webhook_url}"\n'
    if secret_file:
        (root / "webhook.secret").write_text(SECRET + "\n")
        approvals += 'webhook_secret_file = "webhook.secret"\n'
    config = root / "session-studio.toml"
    config.write_text(f"""\
[server]
rpc_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
metrics_listen = "127.0.0.1:0"

[database]
path = "studio.db"

{approvals}
{chains_toml(31337)}""")
    return config


async def test_a_webhook_url_without_a_secret_stops_the_start_in_one_line(
        tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "http://127.0.0.1:1/hook",
                                          secret_file=False))

    with pytest.raises(WebhookSecretError) as raised:
        await Studio.open(settings, env=MASTER_ENV)

    assert "\n" not in str(raised.value)
    assert "SESSION_STUDIO_WEBHOOK_SECRET" in str(raised.value)


async def test_without_a_webhook_url_no_notifier_runs(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:1/hook", secret_file=False)
    config.write_text(config.read_text().replace('webhook_url = "http://127.0.0.1:1/hook"',
                                                 ""))
    studio = await Studio.open(load_settings(config), env=MASTER_ENV)
    try:
        assert studio.notifier is None
    finally:
        await studio.close()


async def test_serve_delivers_the_outbox_and_shows_the_approval_series(
        tmp_path: Path, outbox: Outbox, receiver: Receiver) -> None:
    event = outbox.add("approval.pending")  # the `outbox` fixture's database is the studio's
    studio = await Studio.open(load_settings(write_config(tmp_path, receiver.url,
                                                          secret_file=True)), env=MASTER_ENV)
    server = await start_server(studio)
    try:
        deadline = time.monotonic() + 5
        while outbox.row(event)["delivered_at"] is None:
            assert time.monotonic() < deadline, "not delivered"
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{server.metrics_port}/metrics") as response:
            metrics = await response.text()
    finally:
        await server.stop()
        await studio.close()

    [(headers, body)] = receiver.received
    assert verify_signature(SECRET, headers["X-Session-Studio-Signature"], body, time.time())
    assert ('session_studio_approval_webhook_deliveries_total{result="delivered"} 1.0'
            in metrics)
    assert 'session_studio_approvals_pending{workspace="notify-tests"} 1.0' in metrics
    assert "session_studio_approval_oldest_pending_age_seconds" in metrics
    assert SECRET not in metrics



async def test_a_decision_through_the_studio_is_counted_by_outcome(
        tmp_path: Path, outbox: Outbox) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:1/hook", secret_file=True)
    studio = await Studio.open(load_settings(config), env=MASTER_ENV)
    try:
        await studio.approvals.reject(None, outbox.approval_id, decided_by="cli:test",
                                      reason="no")
        metrics = generate_latest(studio.registry).decode()
    finally:
        await studio.close()

    assert 'session_studio_approval_decisions_total{outcome="rejected"} 1.0' in metrics
