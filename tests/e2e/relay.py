"""An upstream in front of anvil that swallows broadcasts, and a `serve` that reaches anvil
through it: how a test leaves transactions signed (and reserved) but never answered.

The relay forwards every call to anvil unchanged except `eth_sendRawTransaction` of a nonce at
or above `forward_below` (0: every broadcast), which it records and holds unanswered until the
relay is closed: the server sees an upstream that took the transaction and never replied,
exactly what a crash between commit and broadcast, or a lost answer, looks like from the
ledger's side.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import rlp
from session_studio_dev import free_port
from web3 import Web3

from .harness import CLI, PRIMARY_CHAIN, Studio


class SwallowingRelay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, *, forward_below: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.forward_below = forward_below
        self.forwarded: list[str] = []  # hashes of the broadcasts passed on to the node
        self.swallowed: list[str] = []  # the raw transactions held, as hex
        self.lock = threading.Lock()
        self.closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: SwallowingRelay

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        call = json.loads(body)
        if isinstance(call, dict) and call.get("method") == "eth_sendRawTransaction":
            raw_hex = call["params"][0]
            if _nonce(raw_hex) < self.server.forward_below:
                with self.server.lock:
                    self.server.forwarded.append(Web3.keccak(hexstr=raw_hex).to_0x_hex())
            else:
                with self.server.lock:
                    self.server.swallowed.append(raw_hex)
                self.server.closing.wait()
                return  # never forwarded, never answered
        request = urllib.request.Request(self.server.upstream, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _nonce(raw_hex: str) -> int:
    """The nonce of a typed (EIP-2718) transaction: `type || rlp([chain_id, nonce, ...])`."""
    raw = bytes.fromhex(raw_hex[2:])
    return int.from_bytes(rlp.decode(raw[1:])[1], "big")


@contextlib.contextmanager
def swallowing_relay(upstream: str, *, forward_below: int = 0) -> Iterator[SwallowingRelay]:
    relay = SwallowingRelay(upstream, forward_below=forward_below)
    thread = threading.Thread(target=relay.serve_forever, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.closing.set()
        relay.shutdown()
        relay.server_close()


def serve_through(studio: Studio, upstream: str) -> tuple[subprocess.Popen[bytes], int]:
    """`serve` on the studio's database whose primary chain is reached through `upstream`;
    returns the process and its RPC port once /healthz answers."""
    port = free_port()
    text = studio.config.read_text()
    text = text.replace(f'rpc_url = "{studio.chains[PRIMARY_CHAIN].rpc_url}"',
                        f'rpc_url = "{upstream}"')
    for old in (studio.rpc_port, studio.admin_port, studio.metrics_port):
        new = port if old == studio.rpc_port else free_port()
        text = text.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    config = studio.home / f"serve-relay-{port}.toml"
    config.write_text(text)
    log = open(studio.home / f"serve-relay-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([*CLI, "serve", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT)
    studio.servers.append(proc)  # stopped with the others at module teardown
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited with {proc.returncode}; see {log.name}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise AssertionError("serve did not become healthy within 30 s")
