"""A deeply nested JSON body must be refused, never crash the process that serves the admin
plane (and the RPC plane beside it). Run against real processes, since a crash would take a
test worker down with it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from .served import ServedStudio, initialised_studio

pytestmark = pytest.mark.e2e

DEPTH = 100_000  # 200 kB: under the 256 KiB body limit


def _post_deep_json(studio: ServedStudio, body: bytes | None = None) -> int:
    """POST to a public endpoint (no credentials needed): the HTTP status, 0 if no answer."""
    body = ("[" * DEPTH + "]" * DEPTH).encode() if body is None else body
    request = urllib.request.Request(f"{studio.admin_url}/api/v1/auth/login/finish",
                                     data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except (urllib.error.URLError, ConnectionError):
        return 0


@pytest.fixture(params=[False, True], ids=["serve", "serve-after-web3"])
def studio(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStudio]:
    running = initialised_studio(tmp_path_factory.mktemp("deep"), like_dev=request.param)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_a_deeply_nested_body_is_refused_and_the_server_lives_on(studio: ServedStudio) -> None:
    status = _post_deep_json(studio)

    assert status == 400
    assert studio.process is not None and studio.process.poll() is None


def test_deep_nesting_in_utf16_is_refused_and_the_server_lives_on(studio: ServedStudio) -> None:
    # json.loads reads UTF-16 bytes; the old regex guard did not: in UTF-16 an escaped quote
    # ends its string early for the regex, which then took the brackets for string content.
    # Unclosed: json.loads overflows the stack on the way down, before it could complain.
    text = '["\\"", ' + "[" * 120_000 + ' "x"'
    status = _post_deep_json(studio, text.encode("utf-16-le"))

    assert status == 400
    assert studio.process is not None and studio.process.poll() is None
