"""`session-studio`: the operator's command line (CONTRACT.md, "CLI").

Every command opens the same database as a running `serve` and acts through `SessionService`,
so a revoke here takes effect for the server at once (its next reservation reads the row).
Exit codes: 0 success, 1 refused operation (reason on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit

import uvloop

from session_studio import services
from session_studio.keystore import KeystoreError, create_master_key_file
from session_studio.policy import USD, AmountError, Permission, format_amount, parse_amount
from session_studio.services import (
    DurationError,
    InvalidApprovalQuery,
    InvalidSpec,
    SessionSpec,
    approval_view,
    iso,
)
from session_studio.settings import ConfigError, Settings, default_config_path, load_settings
from session_studio.store import (
    AgentCeiling,
    ApprovalStatus,
    Conflict,
    NotFound,
    Scope,
    SessionFilter,
    SessionStatus,
    SessionType,
    StoreError,
)
from session_studio.telemetry import configure_logging

from ._app import Studio, serve_forever

EXIT_REFUSED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A command-line value that cannot be used; exit code 2."""


class Refused(Exception):
    """The operation was refused after its outcome was printed; exit code 1."""


def cli_actor() -> str:
    """How the audit trail names the command line: the OS user who ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"cli:{user}"


def parse_duration(text: str) -> int:
    """A duration flag; zero is refused here already, since no flag takes one."""
    try:
        seconds = services.parse_duration(text)
    except DurationError as exc:
        raise UsageError(f"--expires-in: {exc}") from exc
    if seconds == 0:
        raise UsageError(f"--expires-in: expected e.g. 3600, 45m, 1h or 7d, got {text!r}")
    return seconds


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _amount(text: str, flag: str) -> int:
    try:
        return parse_amount(text)
    except AmountError as exc:
        raise UsageError(f"{flag}: {exc}") from exc


def _common_options(*, top_level: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after the subcommand.

    Only the top-level parser sets defaults: subparsers use SUPPRESS, or their defaults would
    overwrite a `--config` given before the subcommand.
    """
    common = argparse.ArgumentParser(add_help=False)
    default = (lambda value: value) if top_level else (lambda _value: argparse.SUPPRESS)
    common.add_argument("--config", type=Path, default=default(None),
                        help="config file (default: $SESSION_STUDIO_CONFIG, "
                             "else ./session-studio.toml)")
    common.add_argument("--workspace", default=default(None),
                        help="workspace name (default: the first)")
    common.add_argument("--json", action="store_true", default=default(False),
                        help="print JSON")
    return common


def _contracts(text: str | None) -> dict[str, tuple[str, ...] | None]:
    """`0xA,0xB:0xa9059cbb+0x095ea7b3` -> {0xa: None, 0xb: (selectors)} (lower-case)."""
    contracts: dict[str, tuple[str, ...] | None] = {}
    for entry in _csv(text or ""):
        address, _, selectors = entry.partition(":")
        contracts[address.lower()] = (tuple(sel.lower() for sel in selectors.split("+") if sel)
                                      if selectors else None)
    return contracts


def _gwei(text: str) -> int:
    """Gwei as a plain decimal -> wei, exactly (1 gwei = 10**9 wei)."""
    atoms = _amount(text, "--max-fee-per-gas-gwei")  # 10**18 atoms per gwei
    if atoms % 10**9:
        raise UsageError("--max-fee-per-gas-gwei: at most 9 decimal places (1 wei)")
    return atoms // 10**9


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(top_level=False)
    parser = argparse.ArgumentParser(prog="session-studio",
                                     parents=[_common_options(top_level=True)],
                                     description="Policy-enforcing signing sidecar")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", parents=[common], help="master key, database, first workspace")
    sub.add_parser("serve", parents=[common], help="run the RPC, admin and metrics listeners")
    dev = sub.add_parser("dev", parents=[common], help="local anvil + demo workspace + serve")
    dev.add_argument("--dir", type=Path, default=Path(".studio-dev"))
    dev.add_argument("--no-serve", action="store_true", help="set up, print, and exit")

    sessions = sub.add_parser("sessions", parents=[common], help="manage sessions")
    ssub = sessions.add_subparsers(dest="action", required=True)
    create = ssub.add_parser("create", parents=[common])
    create.add_argument("--type", choices=["agent", "app"], required=True)
    create.add_argument("--label", required=True)
    create.add_argument("--agent")
    create.add_argument("--chains", required=True, help="comma-separated chain ids")
    create.add_argument("--permissions", required=True,
                        help=f"comma-separated: {', '.join(p.value for p in Permission)}")
    create.add_argument("--tokens", required=True, help="comma-separated symbols, e.g. USDC,ETH")
    create.add_argument("--per-tx-limit", required=True)
    create.add_argument("--daily-limit", required=True)
    create.add_argument("--limit-unit", default=USD)
    create.add_argument("--expires-in", required=True, help="3600, 45m, 1h, 7d")
    create.add_argument("--recipients", help="comma-separated addresses transfers and approvals "
                                             "may go to (default: any)")
    create.add_argument("--contracts", help="comma-separated contract_call allowlist, each "
                                            "ADDRESS or ADDRESS:SELECTOR+SELECTOR")
    create.add_argument("--rate-limit", type=int, help="signing requests per minute")
    create.add_argument("--max-fee-per-gas-gwei", help="refuse transactions paying more per gas")

    def add_filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--type", choices=["agent", "app"])
        p.add_argument("--status", choices=[s.value for s in SessionStatus])
        p.add_argument("--chain", type=int)
        p.add_argument("--agent")
        p.add_argument("--label")

    listing = ssub.add_parser("list", parents=[common])
    add_filters(listing)
    listing.add_argument("--sort", default="-created",
                         choices=[f"{d}{k}" for k in ("created", "last_used", "expiry")
                                  for d in ("", "-")])
    for action in ("show", "export"):
        ssub.add_parser(action, parents=[common]).add_argument("key_hash")
    rotate = ssub.add_parser("rotate", parents=[common])
    rotate.add_argument("key_hash", nargs="?")
    rotate.add_argument("--all-matching", action="store_true",
                        help="rotate every active session matching the filters")
    add_filters(rotate)
    revoke = ssub.add_parser("revoke", parents=[common])
    revoke.add_argument("key_hash", nargs="?")
    revoke.add_argument("--all-matching", action="store_true",
                        help="revoke every active session matching the filters")
    add_filters(revoke)

    agents = sub.add_parser("agents", parents=[common], help="manage agents")
    asub = agents.add_subparsers(dest="action", required=True)
    register = asub.add_parser("register", parents=[common])
    register.add_argument("name")
    register.add_argument("--daily-budget", help="USD across all the agent's sessions")
    register.add_argument("--rotate-every", help="rotate the agent's sessions this often "
                                                 "(e.g. 7d); the agent token keeps working")
    ceiling = register.add_argument_group(
        "self-service ceiling", "the most the agent may give itself with studio_createSession; "
        "give all of them or none (none: the agent cannot create sessions)")
    ceiling.add_argument("--ceiling-permissions",
                         help=f"comma-separated: {', '.join(p.value for p in Permission)}")
    ceiling.add_argument("--ceiling-chains")
    ceiling.add_argument("--ceiling-tokens")
    ceiling.add_argument("--ceiling-unit", default=None, help="USD (default) or a token")
    ceiling.add_argument("--ceiling-per-tx")
    ceiling.add_argument("--ceiling-daily")
    ceiling.add_argument("--ceiling-lifetime", help="longest session, e.g. 7d")
    ceiling.add_argument("--ceiling-sessions", type=int, help="live sessions at most")
    asub.add_parser("list", parents=[common])
    asub.add_parser("reissue", parents=[common],
                    help="print a new credential for the agent; the old one dies at once"
                    ).add_argument("name")
    asub.add_parser("disable", parents=[common],
                    help="kill the agent's credential and revoke every session of it, for good"
                    ).add_argument("name")

    tokens = sub.add_parser("tokens", parents=[common], help="admin API tokens")
    tsub = tokens.add_subparsers(dest="action", required=True)
    tcreate = tsub.add_parser("create", parents=[common])
    tcreate.add_argument("--scope", required=True,
                         help=f"comma-separated: {', '.join(s.value for s in Scope)}")
    tcreate.add_argument("--name", default="cli")
    tcreate.add_argument("--expires-in", default="30d", help="3600, 45m, 12h, 30d or never")
    tsub.add_parser("list", parents=[common])
    tsub.add_parser("revoke", parents=[common]).add_argument("token_id")

    admins = sub.add_parser("admins", parents=[common], help="admins of the Studio page")
    adsub = admins.add_subparsers(dest="action", required=True)
    invite = adsub.add_parser("invite", parents=[common],
                              help="print a one-time setup link to register a passkey")
    invite.add_argument("--name", default="admin")
    adsub.add_parser("list", parents=[common])

    audit = sub.add_parser("audit", parents=[common], help="the hash-chained audit trail")
    ausub = audit.add_subparsers(dest="action", required=True)
    ausub.add_parser("verify", parents=[common],
                     help="check every entry's hash link; exit 1 at the first broken one")
    export = ausub.add_parser("export", parents=[common], help="write entries as JSON lines")
    export.add_argument("--all-workspaces", action="store_true",
                        help="every workspace (default: only --workspace / the first)")
    export.add_argument("--output", type=Path, help="file to write (default: stdout)")

    approvals = sub.add_parser("approvals", parents=[common],
                               help="requests held for a person's approval")
    apsub = approvals.add_subparsers(dest="action", required=True)
    aplist = apsub.add_parser("list", parents=[common])
    aplist.add_argument("--status", choices=[s.value for s in ApprovalStatus])
    for action in ("approve", "reject"):
        decide = apsub.add_parser(action, parents=[common])
        decide.add_argument("approval_id")
        decide.add_argument("--reason", help="why (kept in the approval and the audit trail)")

    workspaces = sub.add_parser("workspaces", parents=[common], help="manage workspaces")
    wsub = workspaces.add_subparsers(dest="action", required=True)
    wsub.add_parser("create", parents=[common]).add_argument("name")
    wsub.add_parser("list", parents=[common])
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    path = args.config or default_config_path(os.environ, Path.cwd())
    return load_settings(path)


def _print(args: argparse.Namespace, payload: Any, text: str | None = None) -> None:
    if args.json or text is None:
        print(json.dumps(payload, indent=2))
    else:
        print(text)


async def _with_studio(args: argparse.Namespace,
                       body: Callable[[Studio], Awaitable[None]]) -> None:
    studio = await Studio.open(_settings(args))
    try:
        await body(studio)
    finally:
        await studio.close()


def _filter(args: argparse.Namespace, *, sort: str = "-created") -> SessionFilter:
    return SessionFilter(
        type=SessionType(args.type) if args.type else None,
        status=SessionStatus(args.status) if args.status else None,
        chain_id=args.chain, agent_name=args.agent, label_contains=args.label,
        sort=getattr(args, "sort", sort), limit=100_000)


async def cmd_sessions(args: argparse.Namespace, studio: Studio) -> None:
    svc = studio.service
    ws = await svc.workspace(args.workspace)
    if args.action == "create":
        try:
            permissions = tuple(dict.fromkeys(Permission(p) for p in _csv(args.permissions)))
        except ValueError as exc:
            raise UsageError(f"--permissions: {exc}") from exc
        try:
            chains = tuple(dict.fromkeys(int(c) for c in _csv(args.chains)))
        except ValueError as exc:
            raise UsageError(f"--chains: expected comma-separated integers, got "
                             f"{args.chains!r}") from exc
        spec = SessionSpec(
            type=SessionType(args.type), label=args.label, agent=args.agent, chain_ids=chains,
            permissions=permissions, tokens=tuple(dict.fromkeys(_csv(args.tokens))),
            limit_unit=args.limit_unit, per_tx=_amount(args.per_tx_limit, "--per-tx-limit"),
            daily=_amount(args.daily_limit, "--daily-limit"),
            lifetime_s=parse_duration(args.expires_in),
            recipients=None if args.recipients is None
            else tuple(dict.fromkeys(a.lower() for a in _csv(args.recipients))),
            contracts=_contracts(args.contracts),
            rate_limit_per_minute=args.rate_limit,
            max_fee_per_gas=None if args.max_fee_per_gas_gwei is None
            else _gwei(args.max_fee_per_gas_gwei))
        _print(args, (await svc.create_session(ws, spec, actor=cli_actor())).as_json())
    elif args.action == "list":
        described = [(await svc.describe(s)).as_json()
                     for s in await svc.list_sessions(ws, _filter(args))]
        _print(args, described, _table(described))
    elif args.action == "show":
        shown = (await svc.describe(await svc.get_session(ws, args.key_hash))).as_json()
        _print(args, shown, "\n".join(f"{k}: {v}" for k, v in shown.items()))
    elif args.action == "revoke":
        await _revoke(args, studio)
    elif args.action == "rotate":
        await _rotate(args, studio)
    elif args.action == "export":
        _print(args, (await svc.export(ws, args.key_hash, actor=cli_actor())).as_json())


_CEILING_FLAGS = ("ceiling_permissions", "ceiling_chains", "ceiling_tokens", "ceiling_per_tx",
                  "ceiling_daily", "ceiling_lifetime", "ceiling_sessions")


def _ceiling(args: argparse.Namespace) -> AgentCeiling | None:
    given = [flag for flag in _CEILING_FLAGS if getattr(args, flag) is not None]
    if not given and args.ceiling_unit is None:
        return None
    missing = [f"--{flag.replace('_', '-')}" for flag in _CEILING_FLAGS if flag not in given]
    if missing:
        raise UsageError(f"a self-service ceiling needs every bound; missing {', '.join(missing)}")
    try:
        permissions = tuple(dict.fromkeys(Permission(p) for p in _csv(args.ceiling_permissions)))
        chains = tuple(dict.fromkeys(int(c) for c in _csv(args.ceiling_chains)))
    except ValueError as exc:
        raise UsageError(f"--ceiling-permissions/--ceiling-chains: {exc}") from exc
    return AgentCeiling(
        permissions=permissions, chain_ids=chains,
        tokens=tuple(dict.fromkeys(_csv(args.ceiling_tokens))),
        limit_unit=args.ceiling_unit or USD,
        per_tx=_amount(args.ceiling_per_tx, "--ceiling-per-tx"),
        daily=_amount(args.ceiling_daily, "--ceiling-daily"),
        max_lifetime_s=parse_duration(args.ceiling_lifetime),
        max_live_sessions=args.ceiling_sessions)


async def _rotate(args: argparse.Namespace, studio: Studio) -> None:
    """One session, or every active session matching the filters (e.g. weekly automation)."""
    svc = studio.service
    ws = await svc.workspace(args.workspace)
    if args.all_matching == bool(args.key_hash):
        raise UsageError("give either KEY_HASH or --all-matching [filters]")
    if args.key_hash:
        _print(args, (await svc.rotate(ws, args.key_hash, actor=cli_actor())).as_json())
        return
    query = _filter(args)
    if query.status not in (None, SessionStatus.ACTIVE):
        raise UsageError("--all-matching rotates active sessions; drop --status")
    matching = await svc.list_sessions(ws, replace(query, status=SessionStatus.ACTIVE))
    rotated: list[dict[str, str]] = []
    for session in matching:
        # Rotated or revoked by someone else since the listing: nothing left to rotate.
        with contextlib.suppress(Conflict):
            successor = await svc.rotate(ws, session.key_hash, actor=cli_actor())
            rotated.append({"from": session.key_hash, "to": successor.key_hash})
    _print(args, {"count": len(rotated), "rotated": rotated},
           f"rotated {len(rotated)} session(s)"
           + "".join(f"\n  {r['from']} -> {r['to']}" for r in rotated))


async def _revoke(args: argparse.Namespace, studio: Studio) -> None:
    svc = studio.service
    ws = await svc.workspace(args.workspace)
    if args.all_matching == bool(args.key_hash):
        raise UsageError("give either KEY_HASH or --all-matching [filters]")
    if args.key_hash:
        revoked = [await svc.revoke(ws, args.key_hash, actor=cli_actor())]
    else:
        query = _filter(args)
        if query.status not in (None, SessionStatus.ACTIVE):
            raise UsageError("--all-matching revokes active sessions; drop --status")
        revoked = await svc.revoke_matching(ws, query, actor=cli_actor())
    key_hashes = [s.key_hash for s in revoked]
    _print(args, {"count": len(key_hashes), "key_hashes": key_hashes},
           f"revoked {len(key_hashes)} session(s)" + "".join(f"\n  {k}" for k in key_hashes))


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "no sessions"
    lines = [f"{'KEY_HASH':<14} {'TYPE':<6} {'STATUS':<8} {'SPENT/DAILY':<22} {'EXPIRES':<21} "
             f"{'HEALTH':<20} LABEL"]
    for r in rows:
        spend = f"{r['spent_in_window']}/{r['limits']['daily']} {r['limits']['unit']}"
        health = ",".join(r["health"]) or "-"
        lines.append(f"{r['key_hash'][:12]}.. {r['type']:<6} {r['status']:<8} {spend:<22} "
                     f"{r['expires_at']:<21} {health:<20} {r['label']}")
    return "\n".join(lines)


async def cmd_agents(args: argparse.Namespace, studio: Studio) -> None:
    svc = studio.service
    ws = await svc.workspace(args.workspace)
    if args.action == "register":
        budget = None if args.daily_budget is None else _amount(args.daily_budget,
                                                                "--daily-budget")
        agent, token = await svc.register_agent(
            ws, args.name, budget, actor=cli_actor(), ceiling=_ceiling(args),
            rotate_every_s=None if args.rotate_every is None
            else parse_duration(args.rotate_every))
        payload = {"name": agent.name, "credential": token,
                   "daily_budget": None if budget is None else format_amount(budget),
                   "ceiling": None if agent.ceiling is None else agent.ceiling.to_json(),
                   "rotate_every_s": agent.rotate_every_s}
        _print(args, payload, f"registered agent {agent.name}\ncredential: {token}")
    elif args.action == "reissue":
        agent, token = await svc.reissue_agent(ws, args.name, actor=cli_actor())
        _print(args, {"name": agent.name, "credential": token},
               f"reissued the credential of agent {agent.name}; the old one no longer works\n"
               f"credential: {token}")
    elif args.action == "disable":
        agent, revoked = await svc.disable_agent(ws, args.name, actor=cli_actor())
        key_hashes = [s.key_hash for s in revoked]
        _print(args, {"name": agent.name, "status": "disabled", "revoked": key_hashes},
               f"disabled agent {agent.name}: its credential no longer works and "
               f"{len(key_hashes)} session(s) were revoked"
               + "".join(f"\n  {k}" for k in key_hashes))
    else:
        agents = await svc.list_agents(ws)
        listed = [{"name": a.name, "daily_budget": None if a.daily_budget is None
                   else format_amount(a.daily_budget),
                   "status": "active" if a.disabled_at_ms is None else "disabled"}
                  for a in agents]
        _print(args, listed, "\n".join(
            a.name + ("" if a.disabled_at_ms is None else " (disabled)") for a in agents)
            or "no agents")


async def cmd_tokens(args: argparse.Namespace, studio: Studio) -> None:
    service = studio.tokens
    ws = await studio.service.workspace(args.workspace)
    if args.action == "create":
        try:
            scopes = frozenset(Scope(s) for s in _csv(args.scope))
        except ValueError as exc:
            raise UsageError(f"--scope: {exc}") from exc
        if not scopes:
            raise UsageError("--scope: give at least one scope")
        lifetime = None if args.expires_in == "never" else parse_duration(args.expires_in)
        token, secret = await service.create_token(
            ws, name=args.name, scopes=scopes, expires_in_s=lifetime, created_by=None,
            actor=cli_actor())
        _print(args, {"id": token.id, "token": secret,
                      "scopes": [s.value for s in token.scopes],
                      "expires_at": iso(token.expires_at_ms)},
               f"admin API token {token.id} ({', '.join(s.value for s in token.scopes)}):\n"
               f"{secret}")
    elif args.action == "list":
        tokens = await service.list_tokens(ws.id)
        listed = [{"id": t.id, "name": t.name, "scopes": [s.value for s in t.scopes],
                   "expires_at": iso(t.expires_at_ms), "revoked_at": iso(t.revoked_at_ms)}
                  for t in tokens]
        _print(args, listed, "\n".join(f"{t.id} {t.name} {','.join(t.scopes)}"
                                       for t in tokens) or "no tokens")
    else:
        token = await service.revoke_token(ws.id, args.token_id, actor=cli_actor())
        _print(args, {"id": token.id, "revoked_at": iso(token.revoked_at_ms)},
               f"revoked token {token.id}")


async def cmd_approvals(args: argparse.Namespace, studio: Studio) -> None:
    """The host's door to the inbox: whoever can run this holds the master key already, so
    it may approve (CONTRACT.md); an API token never can."""
    ws = await studio.service.workspace(args.workspace)
    approvals = studio.approvals
    if args.action == "list":
        try:
            page = await approvals.list(ws.id, status=args.status, limit=200)
        except InvalidApprovalQuery as exc:
            raise UsageError(str(exc)) from exc
        listed = [approval_view(a) for a in page.items]
        _print(args, listed, "\n".join(
            f"{a['approval_id']} {a['status']:<8} {a['cost']} {a['unit']:<5} "
            f"{a['created_at']} {a['summary']}" for a in listed) or "no approvals")
        return
    if args.action == "reject":
        decided = await approvals.reject(ws.id, args.approval_id, decided_by=cli_actor(),
                                         reason=args.reason)
        _print(args, approval_view(decided), f"rejected {decided.id}: {decided.summary}")
        return
    decided = await approvals.approve(ws.id, args.approval_id, decided_by=cli_actor())
    shown = approval_view(decided)
    if decided.status is not ApprovalStatus.APPROVED:
        _print(args, shown, f"approval {decided.id} can no longer be approved: it is "
                            f"{decided.status.value} ({decided.reason})")
        raise Refused(f"approval {decided.id} is {decided.status.value}: {decided.reason}")
    if decided.error is not None:
        _print(args, shown, f"approved and signed {decided.id}, but the node refused it: "
                            f"{decided.error.get('message')}")
        raise Refused(f"the node refused the approved transaction: "
                      f"{decided.error.get('message')}")
    _print(args, shown, f"approved {decided.id}: {decided.summary}\nresult: {decided.result}")


async def cmd_admins(args: argparse.Namespace, studio: Studio) -> None:
    ws = await studio.service.workspace(args.workspace)
    if args.action == "invite":
        link = await studio.admins.invite(ws, admin_name=args.name, actor=cli_actor())
        _print(args, {"setup_link": link}, f"one-time setup link (valid 24 h):\n  {link}")
    else:
        admins = await studio.admins.list_admins(ws)
        listed = [{"name": a.name, "created_at": iso(a.created_at_ms)} for a in admins]
        _print(args, listed, "\n".join(a.name for a in admins) or "no admins yet")


async def cmd_audit(args: argparse.Namespace, studio: Studio) -> None:
    trail = studio.audit
    if args.action == "verify":
        verdict = await trail.verify()
        payload = {"ok": verdict.ok, "entries": verdict.entries,
                   "head_hash": verdict.head_hash.hex(),
                   "first_broken_seq": verdict.first_broken_seq, "problem": verdict.problem}
        if not verdict.ok:
            _print(args, payload, f"audit trail BROKEN at entry {verdict.first_broken_seq}: "
                                  f"{verdict.problem} ({verdict.entries} entries verified "
                                  "before it)")
            raise AuditBroken(f"audit trail broken at entry {verdict.first_broken_seq}")
        _print(args, payload, f"audit trail intact: {verdict.entries} entries, head "
                              f"{verdict.head_hash.hex()}")
        return
    ws_id = None if args.all_workspaces else (await studio.service.workspace(args.workspace)).id
    out = sys.stdout if args.output is None else _open_output(args.output)
    try:
        after = 0
        while page := await trail.entries(workspace_id=ws_id, after_seq=after, limit=5000):
            for entry in page:
                out.write(json.dumps(entry.as_json(), sort_keys=True) + "\n")
            after = page[-1].seq
    finally:
        if out is not sys.stdout:
            out.close()


def _open_output(path: Path) -> TextIO:
    return path.open("w", encoding="utf-8")


class AuditBroken(Exception):
    """`audit verify` found a broken link: exit 1 (a refused operation), report printed."""


async def cmd_workspaces(args: argparse.Namespace, studio: Studio) -> None:
    svc = studio.service
    if args.action == "create":
        ws = await svc.create_workspace(args.name, actor=cli_actor())
        _print(args, {"name": ws.name}, f"created workspace {ws.name}")
    else:
        names = [w.name for w in await svc.list_workspaces()]
        _print(args, [{"name": n} for n in names], "\n".join(names))


async def cmd_init(args: argparse.Namespace) -> None:
    await initialise(args.config or default_config_path(os.environ, Path.cwd()))


def _write_starter_config(path: Path) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STARTER_CONFIG)
        print(f"wrote a starter config to {path}: add your chains and tokens")


def _database_name(settings: Settings) -> str:
    """Where the database is, for a message: the SQLite file, or the PostgreSQL URL without
    its user and password (a message may end up in a log)."""
    if settings.database.url is None:
        return str(settings.database.path)
    url = urlsplit(settings.database.url)
    query = urlencode([(k, v) for k, v in parse_qsl(url.query) if k != "password"])
    host = url.netloc.rpartition("@")[2]
    return f"{url.scheme}://{host}{url.path}" + (f"?{query}" if query else "")


async def initialise(path: Path) -> str | None:
    """Config, master key, database, first workspace; returns (and prints) the one-time setup
    link while the workspace has no admin yet, so the first person can register a passkey."""
    _write_starter_config(path)
    settings = load_settings(path)
    key_file = settings.keystore.master_key_file
    if "SESSION_STUDIO_MASTER_KEY" not in os.environ and not key_file.exists():
        create_master_key_file(key_file)
        print(f"created master key {key_file} (mode 0600): back it up; without it no session "
              "key can be used")
    studio = await Studio.open(settings)
    try:
        if not await studio.service.list_workspaces():
            await studio.service.create_workspace("default", actor=cli_actor())
            print("created workspace 'default'")
        print(f"database ready at {_database_name(settings)}")
        ws = await studio.service.workspace(None)
        if await studio.admins.list_admins(ws):
            return None
        link = await studio.admins.invite(ws, actor=cli_actor())
        print(f"open this one-time setup link to register the first admin passkey "
              f"(valid 24 h):\n  {link}")
        return link
    finally:
        await studio.close()


async def cmd_serve(args: argparse.Namespace) -> None:
    configure_logging()
    studio = await Studio.open(_settings(args))
    try:
        await serve_forever(studio)
    finally:
        await studio.close()


STARTER_CONFIG = """\
# Session Studio configuration; see config/example.toml in the repository for every key.
[server]
rpc_listen = "127.0.0.1:8645"
admin_listen = "127.0.0.1:8646"
metrics_listen = "127.0.0.1:9646"

[database]
path = "studio.db"

[keystore]
master_key_file = "master.key"

[chains.31337]
name = "local"
rpc_url = "http://127.0.0.1:8545"
native_symbol = "ETH"
native_price = { usd = "3000.00" }
"""


def _join_sort_values(argv: Sequence[str]) -> list[str]:
    """`--sort -created` would read `-created` as an option; pass it as `--sort=-created`."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--sort" and arg.startswith("-"):
            out[-1] = f"--sort={arg}"
        else:
            out.append(arg)
    return out


DEV_COMMAND_GROUP = "session_studio.commands"


def _run_dev(args: argparse.Namespace) -> int:
    """`dev` comes from the session-studio-dev distribution (dev/), which a production install
    does not carry. It registers itself under an entry point, so the CLI never imports the dev
    tooling (dev builds on the CLI, not the other way round); when it is missing, say how to
    get it rather than fail with an ImportError."""
    found = entry_points(group=DEV_COMMAND_GROUP, name="dev")
    missing = UsageError("`dev` needs the development tooling: run `make dev` from a checkout "
                         "(it installs session-studio-dev from dev/)")
    if not found:
        raise missing
    try:
        run_dev: Callable[[argparse.Namespace], int] = next(iter(found)).load()
    except ModuleNotFoundError as exc:  # its metadata is there, its code is not importable
        raise missing from exc
    return run_dev(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_sort_values(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "init":
            asyncio.run(cmd_init(args))
        elif args.command == "serve":
            # uvloop: the event loop is most of a read's cost (bench/results/throughput.md).
            uvloop.run(cmd_serve(args))
        elif args.command == "dev":
            return _run_dev(args)
        else:
            handler = {"sessions": cmd_sessions, "agents": cmd_agents, "tokens": cmd_tokens,
                       "admins": cmd_admins, "audit": cmd_audit,
                       "approvals": cmd_approvals,
                       "workspaces": cmd_workspaces}[args.command]
            asyncio.run(_with_studio(args, lambda studio: handler(args, studio)))
    except (UsageError, InvalidSpec) as exc:
        print(f"session-studio: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuditBroken:
        return EXIT_REFUSED
    except Refused as exc:
        print(f"session-studio: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (ConfigError, KeystoreError, NotFound, Conflict, StoreError) as exc:
        print(f"session-studio: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
