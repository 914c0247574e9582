"""The exported agent config (`session-studio sessions export KEY_HASH --json`), parsed once.

The export describes one session; the wallet reads from it the agent's credential, the RPC
URLs, and the *terms* to ask for when it must create a session of its own (`init()` with no
usable session, `rotate()`). Terms beyond the operator's ceiling for the agent are refused by
the server (`PolicyDenied`, reason `ceiling_exceeded`): the config is a request, not a grant.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._errors import ValidationError

ENV_VAR = "SESSION_STUDIO_AGENT_CONFIG"
DEFAULT_LIFETIME = "1d"  # the export states when its session ends, not how long it lasted


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTerms:
    """What `studio_createSession` is asked for; `replace(terms, label=...)` to vary one."""

    label: str
    chain_ids: tuple[int, ...]
    permissions: tuple[str, ...]
    tokens: tuple[str, ...]
    limit_unit: str
    per_tx_limit: str
    daily_limit: str
    expires_in: str = DEFAULT_LIFETIME
    # The exported session's approval threshold: a session the agent makes for itself keeps
    # holding what the operator wanted held (None: ask for none; the ceiling's then applies).
    approve_above: str | None = None

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "label": self.label, "chain_ids": list(self.chain_ids),
            "permissions": list(self.permissions), "tokens": list(self.tokens),
            "limit_unit": self.limit_unit, "per_tx_limit": self.per_tx_limit,
            "daily_limit": self.daily_limit, "expires_in": self.expires_in}
        if self.approve_above is not None:
            params["approve_above"] = self.approve_above
        return params


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    credential: str
    agent: str | None
    rpc_urls: dict[int, str]
    chain_ids: tuple[int, ...]
    terms: SessionTerms
    key_hash: str | None = None  # the exported session, preferred by init() while usable
    token_addresses: dict[int, dict[str, str]] = field(default_factory=dict)
    native_symbols: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AgentConfig:
        try:
            return _parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            name = exc.args[0] if isinstance(exc, KeyError) else "config"
            raise ValidationError(f"agent config: missing or malformed {name!s}: {exc}",
                                  field=str(name)) from exc

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> AgentConfig:
        return cls.from_mapping(_load_json(Path(path).read_text(), str(path)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AgentConfig:
        """`$SESSION_STUDIO_AGENT_CONFIG`: a path to the exported JSON, or the JSON itself
        (what a secret manager or a container env usually holds)."""
        env = os.environ if environ is None else environ
        value = env.get(ENV_VAR, "").strip()
        if not value:
            raise ValidationError(f"{ENV_VAR} is not set: give the exported agent config's "
                                  "path or JSON", field=ENV_VAR)
        if value.startswith("{"):
            return cls.from_mapping(_load_json(value, ENV_VAR))
        return cls.from_file(value)

    def with_terms(self, **changes: Any) -> AgentConfig:
        return replace(self, terms=replace(self.terms, **changes))


def _load_json(text: str, where: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{where}: not JSON: {exc}", field="config") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"{where}: a JSON object expected", field="config")
    return data


def _parse(data: Mapping[str, Any]) -> AgentConfig:
    chain_ids = tuple(int(c) for c in data["chain_ids"])
    if not chain_ids:
        raise ValueError("chain_ids is empty")
    rpc_urls = {int(k): str(v) for k, v in (data.get("rpc_urls") or {}).items()}
    if not rpc_urls:
        rpc_urls = {chain_ids[0]: str(data["rpc_url"])}
    limits = data["limits"]
    terms = SessionTerms(
        label=str(data.get("label") or "agent session"), chain_ids=chain_ids,
        permissions=tuple(str(p) for p in data["permissions"]),
        tokens=tuple(str(t) for t in data["tokens"]), limit_unit=str(limits["unit"]),
        per_tx_limit=str(limits["per_tx"]), daily_limit=str(limits["daily"]),
        expires_in=str(data.get("expires_in") or DEFAULT_LIFETIME),
        # Absent from exports made before issue 14.
        approve_above=None if limits.get("approve_above") is None
        else str(limits["approve_above"]))
    tokens = {int(chain): {str(sym): str(addr) for sym, addr in by_symbol.items()}
              for chain, by_symbol in (data.get("token_addresses") or {}).items()}
    natives = {int(chain): str(sym) for chain, sym in (data.get("native_symbols") or {}).items()}
    return AgentConfig(credential=str(data["credential"]), agent=data.get("agent"),
                       rpc_urls=rpc_urls, chain_ids=chain_ids, terms=terms,
                       key_hash=data.get("key_hash"), token_addresses=tokens,
                       native_symbols=natives)
