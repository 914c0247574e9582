"""The run-wide secret scan (issue 5, "Structured logs"): every credential and private key the
tests created is recorded, and when the whole run ends every log file it wrote is searched for
each of them in every encoding a careless log line could use.

Workers record into one file named by an environment variable the controller sets before it
starts them; the controller scans once all workers are done (tests/conftest.py).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from pathlib import Path

ENV = "SESSION_STUDIO_TEST_SECRETS"
CREDENTIAL = re.compile(r"\b(?:sst|ssa|ssu)_[A-Za-z0-9_-]{43}\b")


def record(secrets: Iterable[str | bytes]) -> None:
    """Remember secrets for the end-of-run scan (a no-op outside a configured run)."""
    path = os.environ.get(ENV)
    if not path:
        return
    lines = [s if isinstance(s, str) else "hex:" + s.hex() for s in secrets]
    if lines:
        with open(path, "a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))


def record_credentials_in(text: str) -> None:
    """Every credential-shaped string in a CLI answer (artifacts, agents, tokens, links)."""
    record(CREDENTIAL.findall(text))


def encodings(secret: str) -> list[bytes]:
    if not secret.startswith("hex:"):
        return [secret.encode()]
    raw = bytes.fromhex(secret[4:])
    return [raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw),
            base64.urlsafe_b64encode(raw).rstrip(b"=")]


def scan(root: Path, secrets_file: Path) -> list[tuple[str, str]]:
    """(log file, what leaked) for every recorded secret found in a `*.log` under `root`."""
    if not secrets_file.exists():
        return []
    secrets = set(secrets_file.read_text(encoding="utf-8").split())
    leaks: list[tuple[str, str]] = []
    for log in sorted(root.rglob("*.log")):
        data = log.read_bytes()
        for secret in sorted(secrets):
            if any(needle in data for needle in encodings(secret)):
                kind = "a private key" if secret.startswith("hex:") else secret[:4] + "..."
                leaks.append((str(log), kind))
    return leaks
