"""Helpers for the observability e2e tests: a sidecar with a chosen `[metrics]` table, scrapes.

The shared `studio` fixture refreshes the fleet snapshot every 5 s (the default); these tests
start their own sidecar with a shorter period so they wait less, never with a fake clock.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

from .harness import Studio, start_studio, stop_studio

T = TypeVar("T")
Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


def start_observed_studio(home: Path, metrics_table: str) -> Studio:
    """Two anvils, `init`, the given `[metrics]` keys appended to the config, `serve` running."""
    studio = start_studio(home)
    try:
        with studio.config.open("a") as config:
            config.write("[metrics]\n" + metrics_table.strip() + "\n")
        studio.start_server()
    except BaseException:
        stop_studio(studio)
        raise
    return studio


def scrape_text(studio: Studio) -> str:
    url = f"http://127.0.0.1:{studio.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def samples_of(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def scrape(studio: Studio) -> tuple[str, Samples]:
    text = scrape_text(studio)
    return text, samples_of(text)


def series_of(samples: Samples, name: str, **labels: str) -> list[float]:
    """Values of every series of `name` whose labels include `labels`."""
    return [value for (sample, sample_labels), value in samples.items()
            if sample == name and labels.items() <= dict(sample_labels).items()]


def eventually(probe: Callable[[], T | None], *, timeout_s: float = 20,
               what: str = "condition") -> T:
    """Poll `probe` until it returns something other than None (no timed assertion: the
    deadline only bounds a test that would otherwise hang)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.1)
