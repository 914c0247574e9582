"""The RPC plane's HTTP surface: routes, credential check, body cap, one error renderer.

Every JSON-RPC answer is HTTP 200 (ethers throws on anything else), except a missing or wrong
credential (HTTP 401, code 4100) and a body over the cap (HTTP 413, as geth answers). Nothing
escapes as a 500 with a traceback: unexpected exceptions become -32603 with a request id, and
the details go to the log.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from aiohttp import web
from session_studio.store import Session, StoreError

from session_studio.basics import credential_hash, dump_json, looks_like_credential

from ._context import Caller, RpcPlaneDeps
from ._credential_cache import CredentialCache
from ._envelope import Call, answer_body, error_response, parse_body
from ._errors import (
    InternalError,
    InvalidRequest,
    ParseError,
    PolicyDenied,
    RpcError,
    Unauthorized,
)
from ._methods import DECIDING_METHODS, SESSION_METHODS, RpcMethods
from ._recovery import rebroadcast_unconfirmed
from ._self_service import STUDIO_METHODS
from ._settlement import Settlement

log = logging.getLogger("session_studio.proxy")
DEPS_KEY = web.AppKey("rpc_deps", RpcPlaneDeps)


@web.middleware
async def _fail_closed(request: web.Request, handler: Any) -> web.StreamResponse:
    """Last line: nothing leaves as aiohttp's 500 page; the client gets -32603 and an id."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException:
        raise
    except Exception:
        request_id = os.urandom(8).hex()
        log.exception("unhandled error", extra={"request_id": request_id})
        return _json(error_response(InternalError("internal error", {"request_id": request_id}),
                                    None))


def create_rpc_app(deps: RpcPlaneDeps) -> web.Application:
    app = web.Application(client_max_size=deps.max_body_bytes, middlewares=[_fail_closed])
    app[DEPS_KEY] = deps
    methods = RpcMethods(deps)
    credentials = CredentialCache(deps.store, clock=deps.clock)

    async def rpc(request: web.Request) -> web.StreamResponse:
        request_id = os.urandom(8).hex()
        token = _credential(request)
        if token is None:
            return _unauthorized()
        token_hash = credential_hash(token)
        try:
            owner = await credentials.owner(token_hash)
        except StoreError:
            return _database_unavailable(request_id)
        if owner is None:
            return _unauthorized()
        if request.content_length is not None and request.content_length > deps.max_body_bytes:
            return _too_large(deps.max_body_bytes)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(deps.max_body_bytes)
        try:
            payload = parse_body(body)
        except ParseError as exc:
            return _json(error_response(exc, None))
        if _needs_fresh_credential(payload):
            # Signing never trusts the credential cache: a credential revoked anywhere is
            # refused here with 401 at once, not served for the cache's bound.
            try:
                owner = await credentials.owner(token_hash, fresh=True)
            except StoreError:
                return _database_unavailable(request_id)
            if owner is None:
                return _unauthorized()
        chain_id = _chain_id(request.match_info["chain_id"])
        if chain_id is None:
            return _json(error_response(InvalidRequest("invalid request: the URL's chain id "
                                                       "must be a decimal number"), None))
        loaded: dict[bool, tuple[Session, ...]] = {}  # fresh? -> the session list

        def agent_session_picked(session: Session) -> None:
            deps.observer.session_used(session.id, deps.clock())

        async def caller_for(call: Call) -> Caller:
            # The session list is read once per HTTP request, and only if a method needs it;
            # methods outside SESSION_METHODS see none, so a mistake there fails closed. A
            # deciding method reads it fresh (the cache is for reads: _credential_cache.py).
            sessions: tuple[Session, ...] = ()
            if call.method in SESSION_METHODS:
                fresh = call.method in DECIDING_METHODS
                if fresh not in loaded:
                    loaded[fresh] = await credentials.sessions(token_hash, owner, fresh=fresh)
                sessions = loaded[fresh]
            return Caller(owner=owner, sessions=sessions,
                          chain=deps.chains.get(chain_id), chain_id=chain_id,
                          request_id=request_id,
                          session_picked=agent_session_picked if owner.kind == "agent"
                          else _ignore_pick)

        async def dispatch(call: Call) -> Any:
            started = time.perf_counter()
            outcome = "internal"
            # Usage: every call an app credential makes is its session's, reads included; an
            # agent credential's call counts for the session it picks (agent_session_picked).
            if owner.kind == "session":
                deps.observer.session_used(owner.owner_id, deps.clock())
            try:
                result = await methods.dispatch(await caller_for(call), call)
                outcome = "ok"
                if call.method in DECIDING_METHODS:
                    deps.observer.decision("allowed")
                return result
            except PolicyDenied as denied:
                outcome = "denied"
                deps.observer.decision(str(denied.data["reason"]))
                raise
            except InternalError:
                raise
            except RpcError:
                outcome = "error"
                raise
            except Exception as exc:
                # Fail closed: whatever broke, nothing was signed that the ledger does not hold.
                log.exception("request failed", extra={"request_id": request_id,
                                                       "method": call.method})
                raise InternalError("internal error", {"request_id": request_id}) from exc
            finally:
                deps.observer.request(call.method, outcome, time.perf_counter() - started)

        answer = await answer_body(payload, dispatch, max_batch=deps.max_batch_size)
        if answer is None:
            return web.Response(status=200)
        return _json(answer)

    async def healthz(_request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        try:
            await deps.store.ping()
            checks["database"] = "ok"
        except StoreError as exc:
            checks["database"] = f"error: {exc}"
        for chain_id, chain in sorted(deps.chains.items()):
            try:
                answered = await chain.upstream.call("eth_chainId", [])
                ok = isinstance(answered, str) and int(answered, 16) == chain_id
                checks[f"chain:{chain_id}"] = "ok" if ok else f"error: chain id {answered}"
            except (RpcError, ValueError) as exc:
                checks[f"chain:{chain_id}"] = f"error: {exc}"
        ready = all(v == "ok" for v in checks.values())
        return _json({"status": "ready" if ready else "not ready", "checks": checks},
                     status=200 if ready else 503)

    async def start_upstreams(_app: web.Application) -> None:
        for chain in deps.chains.values():
            await chain.upstream.start()
        # Before the first request: close nonce gaps a crash left behind.
        await rebroadcast_unconfirmed(deps)

    async def close_upstreams(_app: web.Application) -> None:
        for chain in deps.chains.values():
            await chain.upstream.close()

    async def finish_unbroadcast(signed_before_ms: int) -> int:
        return await rebroadcast_unconfirmed(deps, signed_before_ms=signed_before_ms)

    # Settlement starts after recovery (which runs in start_upstreams) and stops before the
    # upstream clients close. Each round it also finishes sends left unbroadcast past the
    # grace, whichever replica signed them (a dead one's nonce gap, closed without a restart).
    settlement = Settlement(deps, finish_unbroadcast=finish_unbroadcast)
    app.on_startup.append(credentials.start)
    app.on_startup.append(start_upstreams)
    app.on_startup.append(settlement.start)
    app.on_cleanup.append(settlement.stop)
    app.on_cleanup.append(credentials.stop)
    app.on_cleanup.append(close_upstreams)
    app.router.add_post("/rpc/{chain_id}", rpc)
    app.router.add_post("/rpc/{chain_id}/{credential}", rpc)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


_FRESH_CREDENTIAL_METHODS = DECIDING_METHODS | STUDIO_METHODS | {"studio_getApproval"}


def _needs_fresh_credential(payload: Any) -> bool:
    """Whether a request (or any call of a batch) asks for a signature or changes sessions
    (agent self-service): those never take the credential from the cache."""
    calls = payload if isinstance(payload, list) else [payload]
    return any(isinstance(c, dict) and isinstance(c.get("method"), str)
               and c["method"] in _FRESH_CREDENTIAL_METHODS for c in calls)


def _unauthorized() -> web.Response:
    return _json(error_response(Unauthorized("missing or invalid credential"), None), status=401)


def _database_unavailable(request_id: str) -> web.Response:
    log.exception("credential lookup failed", extra={"request_id": request_id})
    return _json(error_response(InternalError("internal error: database unavailable",
                                              {"request_id": request_id}), None))


def _ignore_pick(_session: Session) -> None:
    """An app credential's calls were counted already, whatever session the method picks."""


def _credential(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    token = token or request.match_info.get("credential")
    return token if token and looks_like_credential(token) else None


def _chain_id(text: str) -> int | None:
    if not text.isdigit() or len(text) > 20:
        return None
    return int(text)


def _too_large(cap: int) -> web.Response:
    return _json(error_response(InvalidRequest(f"request body too large: at most {cap} bytes"),
                                None), status=413)


def _json(payload: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=dump_json(payload), status=status,
                        content_type="application/json")
