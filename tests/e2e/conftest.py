"""One sidecar (two anvil chains + `serve`) per test module; each test makes its own sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Studio, start_studio, stop_studio


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home: Path = tmp_path_factory.mktemp("studio")
    running = start_studio(home)
    try:
        running.start_server()
        yield running
    finally:
        stop_studio(running)
