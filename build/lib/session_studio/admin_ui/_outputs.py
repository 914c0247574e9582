"""The service's records as the admin API's response models: the one place they are mapped.

The services answer with frozen records (`SessionView`, `SessionArtifact`); the API's pydantic
models (`_schemas.py`) are its published shape. Mapping goes through `as_json()`, so a field
the records gain shows up in the API only once its model declares it (`_Out` ignores extras).
"""

from __future__ import annotations

from decimal import Decimal

from session_studio.services import SessionArtifact, SessionView

from ._schemas import Artifact, SessionOut, Usage


def session_out(view: SessionView) -> SessionOut:
    return SessionOut.model_validate(view.as_json())


def artifact_out(artifact: SessionArtifact) -> Artifact:
    return Artifact.model_validate(artifact.as_json())


def usage_out(view: SessionView) -> Usage:
    """Usage: spend against the daily limit, as a ratio with four decimals."""
    ratio = Decimal(view.spent_in_window) / Decimal(view.limits.daily)
    return Usage.model_validate({
        "key_hash": view.key_hash, "status": view.status, "last_used_at": view.last_used_at,
        "request_count": view.request_count, "spent_in_window": view.spent_in_window,
        "limits": view.as_json()["limits"], "utilization": f"{ratio:.4f}",
        "health": list(view.health)})
