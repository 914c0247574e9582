"""One sidecar (two anvil chains + `serve`) per test module; each test makes its own sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Studio, running_studio


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with running_studio(tmp_path_factory.mktemp("studio")) as running:
        yield running
