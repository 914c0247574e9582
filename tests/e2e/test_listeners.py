"""The three planes on their own listeners: the admin plane never answers on the RPC port, the
RPC plane never on the admin port, metrics only on the metrics port (CONTRACT.md, issue 4)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from .harness import PRIMARY_CHAIN, Studio

pytestmark = pytest.mark.e2e


def _status(url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("path", ["/", "/api/v1/openapi.json", "/api/v1/sessions", "/login",
                                  "/setup", "/static/studio.css", "/metrics"])
def test_the_rpc_port_serves_no_admin_page_api_or_metrics(studio: Studio, path: str) -> None:
    assert _status(f"http://127.0.0.1:{studio.rpc_port}{path}") == 404


@pytest.mark.parametrize("path", [f"/rpc/{PRIMARY_CHAIN}", "/metrics"])
def test_the_admin_port_serves_no_rpc_or_metrics(studio: Studio, path: str) -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'
    assert _status(f"http://127.0.0.1:{studio.admin_port}{path}", body) in (404, 405)


def test_the_admin_port_serves_the_openapi_document(studio: Studio) -> None:
    assert _status(f"http://127.0.0.1:{studio.admin_port}/api/v1/openapi.json") == 200


@pytest.mark.parametrize("path", ["/", "/api/v1/openapi.json", f"/rpc/{PRIMARY_CHAIN}"])
def test_the_metrics_port_serves_only_metrics(studio: Studio, path: str) -> None:
    assert _status(f"http://127.0.0.1:{studio.metrics_port}{path}") == 404
