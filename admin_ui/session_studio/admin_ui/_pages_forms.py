"""Form fields and query strings -> the admin API's request models, with messages that name the
field as the form labels it and say what to type instead.

The models themselves (`_schemas.py`) stay the one definition of what is valid; this module only
turns comma lists and text areas into the shapes they expect and rewords their complaints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError
from session_studio.store import SessionType

from ._errors import ApiError
from ._schemas import AgentCreate, BulkRevoke, SessionCreate, SessionQuery, TokenCreate

FIELD_LABELS: Mapping[str, str] = {
    "label": "Label", "agent": "Agent", "chain_ids": "Chains", "permissions": "Permissions",
    "tokens": "Tokens", "limit_unit": "Limit unit", "per_tx_limit": "Per-transaction limit",
    "daily_limit": "Daily limit", "expires_in": "Expires in", "recipients": "Recipients",
    "contracts": "Contracts", "rate_limit_per_minute": "Rate limit",
    "max_fee_per_gas_gwei": "Max fee per gas", "approve_above": "Hold for approval above",
    "name": "Name", "scopes": "Scopes",
    "daily_budget": "Daily budget", "chain": "Chain", "status": "Status", "sort": "Sort",
    "cursor": "Page", "type": "Type",
}
_AMOUNT = "enter a plain amount such as 10 or 0.25 (no sign, no separators)"
_NAME = "use 1 to 100 letters, digits, '-', '_' or '.'"
# Pydantic reports a failed pattern as the regex itself; an operator needs an example instead.
_PATTERN_HINTS: Mapping[str, str] = {
    "per_tx_limit": _AMOUNT, "daily_limit": _AMOUNT, "daily_budget": _AMOUNT,
    "approve_above": _AMOUNT,
    "max_fee_per_gas_gwei": "enter gwei as a plain number such as 50 or 1.5",
    "expires_in": "enter seconds, or a number followed by s, m, h or d (for example 7d)",
    "recipients": "each recipient is 0x followed by 40 hex digits",
    "contracts": "write one contract per line: its 0x address (40 hex digits), then optionally "
                 "the allowed 4-byte selectors (0x + 8 hex digits)",
    "agent": _NAME, "name": _NAME,
}
_SEPARATORS = re.compile(r"[\s,]+")
_SESSION_FILTERS = ("type", "status", "chain", "agent", "label", "sort", "cursor", "limit")
_BULK_FILTERS = ("type", "chain", "agent", "label")


class FormProblem(Exception):
    """One field the operator must correct; `text` is what the page shows."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    @property
    def text(self) -> str:
        if self.field not in FIELD_LABELS:  # the whole form, e.g. a missing step-up
            return self.message[:1].upper() + self.message[1:]
        return f"{FIELD_LABELS[self.field]}: {self.message}"


def from_validation(exc: ValidationError) -> FormProblem:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "form"
    if first["type"] == "string_pattern_mismatch" and field in _PATTERN_HINTS:
        return FormProblem(field, _PATTERN_HINTS[field])
    if first["type"] == "too_short" and field in ("permissions", "scopes", "tokens",
                                                  "chain_ids"):
        return FormProblem(field, "choose at least one")
    if first["type"] == "missing":
        return FormProblem(field, "required")
    return FormProblem(field, str(first["msg"]))


def from_api(exc: ApiError) -> FormProblem:
    """A refusal of the API's handler (the service's own checks) as a form problem."""
    field = exc.field or "form"
    prefix = f"{field}: "
    message = exc.message[len(prefix):] if exc.message.startswith(prefix) else exc.message
    return FormProblem(field, message)


def items(text: str) -> list[str]:
    """`8453, 1` or one per line -> `["8453", "1"]`."""
    return [part for part in _SEPARATORS.split(text.strip()) if part]


def _build(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from exc


def _chain_ids(text: str) -> list[int]:
    chains = []
    for part in items(text):
        if not part.isdigit() or len(part) > 18:
            raise FormProblem("chain_ids", f"{part!r} is not a chain id (a whole number such "
                                           "as 8453)")
        chains.append(int(part))
    return chains


def _contracts(text: str) -> dict[str, list[str] | None] | None:
    allowlist: dict[str, list[str] | None] = {}
    for line in text.splitlines():
        parts = [p for p in re.split(r"[\s,:]+", line.strip()) if p]
        if parts:
            allowlist[parts[0].lower()] = [p.lower() for p in parts[1:]] or None
    return allowlist or None


def _optional(text: str) -> str | None:
    return text.strip() or None


def session_create(form: MultiDictProxy[str], type_: SessionType) -> SessionCreate:
    """The New Session form as the API's `SessionCreate`."""
    rate = form.get("rate_limit_per_minute", "").strip()
    if rate and not rate.isdigit():
        raise FormProblem("rate_limit_per_minute", "a whole number of requests per minute")
    recipients = items(form.get("recipients", ""))
    data: dict[str, Any] = {
        "type": type_.value,
        "label": form.get("label", "").strip(),
        "chain_ids": _chain_ids(form.get("chain_ids", "")),
        "permissions": form.getall("permissions", []),
        "tokens": items(form.get("tokens", "")),
        "limit_unit": form.get("limit_unit", "").strip() or "USD",
        "per_tx_limit": form.get("per_tx_limit", "").strip(),
        "daily_limit": form.get("daily_limit", "").strip(),
        "expires_in": form.get("expires_in", "").strip(),
        "recipients": [r.lower() for r in recipients] or None,
        "contracts": _contracts(form.get("contracts", "")),
        "rate_limit_per_minute": int(rate) if rate else None,
        "max_fee_per_gas_gwei": _optional(form.get("max_fee_per_gas_gwei", "")),
        "approve_above": _optional(form.get("approve_above", "")),
    }
    if type_ is SessionType.AGENT:
        agent = form.get("agent", "").strip()
        if not agent:
            raise FormProblem("agent", "choose the agent this session belongs to")
        data["agent"] = agent
    built: SessionCreate = _build(SessionCreate, data)
    return built


def session_values(form: MultiDictProxy[str]) -> dict[str, Any]:
    """What the operator typed, to put back into the form after a refusal."""
    values: dict[str, Any] = {key: form.get(key, "") for key in (
        "label", "agent", "chain_ids", "tokens", "limit_unit", "per_tx_limit", "daily_limit",
        "expires_in", "recipients", "contracts", "rate_limit_per_minute",
        "max_fee_per_gas_gwei", "approve_above")}
    values["permissions"] = form.getall("permissions", [])
    return values


def token_create(form: MultiDictProxy[str]) -> TokenCreate:
    expires = form.get("expires_in", "30d").strip()
    built: TokenCreate = _build(TokenCreate, {
        "name": form.get("name", "").strip(), "scopes": form.getall("scopes", []),
        "expires_in": None if expires == "never" else expires})
    return built


def agent_create(form: MultiDictProxy[str]) -> AgentCreate:
    built: AgentCreate = _build(AgentCreate, {
        "name": form.get("name", "").strip(),
        "daily_budget": _optional(form.get("daily_budget", ""))})
    return built


def filters(params: Mapping[str, str], names: tuple[str, ...] = _SESSION_FILTERS
            ) -> dict[str, str]:
    """The inventory filters present in a query string or form (empty ones are "any")."""
    return {name: params[name].strip() for name in names
            if name in params and params[name].strip()}


def session_query(params: Mapping[str, str]) -> SessionQuery:
    built: SessionQuery = _build(SessionQuery, filters(params))
    return built


def bulk_revoke(params: Mapping[str, str], *, dry_run: bool) -> BulkRevoke:
    built: BulkRevoke = _build(BulkRevoke, {**filters(params, _BULK_FILTERS),
                                            "dry_run": dry_run})
    return built
