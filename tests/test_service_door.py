"""The services are the only door to sessions, agents, tokens, admins and the audit trail.

A transport (the admin plane `admin_ui/`, the command line `session_studio/cli.py`, the RPC
plane `proxy/`) translates requests into service calls; it never holds the store for these.
This reads their source (imports and attribute chains, no import side effects) and fails if:

- a transport imports from `session_studio.store` anything but records, errors and values
  (no `Store`, no backend, no `open_store`, no private module);
- the admin plane or the CLI reaches a `.store` / `._store` attribute at all;
- the RPC plane calls, on its store, a method one of the services owns (any `self._store.X`
  in the service modules). The RPC plane still holds a store for the spend ledger (reserve,
  sign, settle) and the per-request credential lookup, which are not management.

Run: `.venv/bin/pytest tests/test_service_door.py -q -p no:cacheprovider`
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADMIN_UI = ROOT / "admin_ui" / "session_studio" / "admin_ui"
PROXY = ROOT / "proxy" / "session_studio" / "proxy"
ADMIN_AND_CLI = [*sorted(ADMIN_UI.glob("*.py")), ROOT / "session_studio" / "cli.py"]
RPC_PLANE = sorted(PROXY.glob("*.py"))
SERVICES = [ROOT / "session_studio" / "services" / name for name in
            ("_sessions.py", "_admins.py", "_tokens.py", "_audit_trail.py")]
# Not records: the repository itself and how to open one.
NOT_RECORDS = frozenset({"Store", "SqliteStore", "PostgresStore", "open_store", "StoreLifecycle",
                         "SessionRepository", "AdminRepository", "AuditLog", "FleetReader",
                         "UsageWriter", "SigningStore", "Ledger", "LedgerReader",
                         "CredentialResolver", "Readiness"})
# The narrow ledger-side protocols the signing pipeline is handed (`store._interface`): it
# reserves, signs and settles through them, and nothing in them manages a session.
RPC_PLANE_PROTOCOLS = frozenset({"SigningStore", "Ledger", "LedgerReader",
                                 "CredentialResolver", "Readiness"})
# What the RPC plane reads on every request before any policy runs: which credential, which
# sessions it reaches. Ledger-side reads, not management (they move with the store's split).
RPC_REQUEST_READS = frozenset({"live_sessions_of", "session_by_address", "resolve_credential"})
STORE_NAMES = frozenset({"store", "_store"})


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _store_imports(path: Path) -> Iterator[str]:
    """`name` for every name imported from the store package, `module` for a private one."""
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            module = node.module
            if module.startswith("session_studio.store."):
                yield module
            elif module == "session_studio.store":
                yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("session_studio.store"))


def _store_attributes(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, `store` or `_store`, the method taken from it if any) for every use."""
    tree = _tree(path)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in STORE_NAMES:
            parent = parents.get(node)
            method = parent.attr if isinstance(parent, ast.Attribute) else None
            yield node.lineno, node.attr, method


def _service_owned_methods() -> frozenset[str]:
    owned = {method for path in SERVICES for _, _, method in _store_attributes(path)
             if method is not None}
    assert owned, "the services call no store method: has SERVICES moved?"
    return frozenset(owned)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", ADMIN_AND_CLI + RPC_PLANE, ids=_rel)
def test_a_transport_imports_only_records_and_errors_from_the_store(path: Path) -> None:
    allowed = RPC_PLANE_PROTOCOLS if path in RPC_PLANE else frozenset()
    bad = [name for name in _store_imports(path)
           if (name in NOT_RECORDS and name not in allowed)
           or name.startswith(("session_studio.store", "_"))]
    assert bad == [], f"{_rel(path)} imports {bad} from the store: go through a service"


@pytest.mark.parametrize("path", ADMIN_AND_CLI, ids=_rel)
def test_the_admin_plane_and_the_cli_never_reach_the_store(path: Path) -> None:
    uses = [f"line {line}: .{attr}" + (f".{method}" if method else "")
            for line, attr, method in _store_attributes(path)]
    assert uses == [], f"{_rel(path)} reaches the store ({uses}): call a service instead"


@pytest.mark.parametrize("path", RPC_PLANE, ids=_rel)
def test_the_rpc_plane_leaves_management_to_the_services(path: Path) -> None:
    owned = _service_owned_methods() - RPC_REQUEST_READS
    calls = [f"line {line}: .{attr}.{method}" for line, attr, method in _store_attributes(path)
             if method in owned]
    assert calls == [], f"{_rel(path)} manages sessions/agents/tokens/admins on the store " \
                        f"({calls}): call a service instead"


def test_agent_self_service_holds_no_store() -> None:
    path = PROXY / "_self_service.py"
    assert list(_store_attributes(path)) == []
    assert set(_store_imports(path)) <= {"CredentialOwner"}


def test_the_check_sees_a_store_call_when_there_is_one(tmp_path: Path) -> None:
    """The AST walk itself: a planted `deps.store.revoke_session(...)` is found."""
    planted = tmp_path / "planted.py"
    planted.write_text("from session_studio.store import Store, Session\n"
                       "async def f(deps):\n    await deps.store.revoke_session('x')\n")
    assert list(_store_imports(planted)) == ["Store", "Session"]
    assert list(_store_attributes(planted)) == [(3, "store", "revoke_session")]
    assert "revoke_session" in _service_owned_methods()
