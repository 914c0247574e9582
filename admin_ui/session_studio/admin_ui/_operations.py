"""A tiny declarative layer: each API operation is one `Operation` value, from which both the
aiohttp route (authentication, CSRF, scope, validation, error mapping) and its OpenAPI entry are
made. Handlers receive validated models and return models; they never touch raw input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError
from session_studio.store import Conflict, NotFound, Scope, StoreUnavailable

from session_studio.basics import JsonRejected, parse_json

from ._errors import ApiError, Forbidden, Unauthenticated
from ._principal import Principal

log = logging.getLogger("session_studio.admin")

COOKIE = "studio_session"
CSRF_HEADER = "X-CSRF-Token"
MAX_BODY_BYTES = 256 * 1024
MAX_NESTING = 32  # the deepest admin body (a ceiling inside an agent) needs 3
PUBLIC = None  # an operation without a scope needs no credentials


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One validated request, as a handler sees it."""

    request: web.Request
    principal: Principal | None
    path: dict[str, str]
    query: Any  # the operation's query model instance, or None
    body: Any  # the operation's body model instance, or None

    @property
    def who(self) -> Principal:
        assert self.principal is not None, "an authenticated operation"
        return self.principal


Handler = Callable[[Call], Awaitable[BaseModel | web.StreamResponse]]
Authenticate = Callable[[web.Request], Awaitable[Principal | None]]
CheckCsrf = Callable[[Principal, str | None], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    method: str
    path: str  # relative to /api/v1, aiohttp syntax: /sessions/{key_hash}
    operation_id: str
    summary: str
    handler: Handler
    scope: Scope | None  # None: public
    response: type[BaseModel]
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    path_patterns: dict[str, str] = field(default_factory=dict)
    cookie_only: bool = False  # needs a logged-in person (tokens get 403)
    description: str = ""
    tag: str = "sessions"

    @property
    def is_mutation(self) -> bool:
        return self.method not in ("GET", "HEAD")


def error_response(exc: ApiError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status)


def _validation_error(exc: ValidationError, where: str) -> ApiError:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"])
    name = loc or where
    return ApiError(422, "validation_error", f"{name}: {first['msg']}", field=name)


def mount(app: web.Application, prefix: str, operations: Sequence[Operation], *,
          authenticate: Authenticate, check_csrf: CheckCsrf) -> None:
    """Register every operation under `prefix` with the shared request pipeline."""
    for op in operations:
        app.router.add_route(op.method, prefix + op.path,
                             _endpoint(op, authenticate, check_csrf))


def _endpoint(op: Operation, authenticate: Authenticate,
              check_csrf: CheckCsrf) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            return await _run(op, request, authenticate, check_csrf)
        except ApiError as exc:
            return error_response(exc)
        except NotFound as exc:
            return error_response(ApiError(404, "not_found", str(exc)))
        except Conflict as exc:
            return error_response(ApiError(409, "conflict", str(exc)))
        except StoreUnavailable:
            log.exception("admin API: database unavailable")
            return error_response(ApiError(503, "unavailable", "the database is unavailable"))

    return endpoint


async def _run(op: Operation, request: web.Request, authenticate: Authenticate,
               check_csrf: CheckCsrf) -> web.StreamResponse:
    principal = await authenticate(request)
    if op.scope is not PUBLIC:
        if principal is None:
            raise Unauthenticated()
        if principal.login_hash is not None and op.is_mutation and not check_csrf(
                principal, request.headers.get(CSRF_HEADER)):
            raise Forbidden("csrf_failed", f"send the {CSRF_HEADER} header from /auth/me "
                                           "with every change")
        if op.cookie_only and principal.login_hash is None:
            raise Forbidden("passkey_required", "only a person logged in with a passkey may "
                                                "do this")
        if not principal.can(op.scope):
            raise Forbidden("insufficient_scope", f"this needs the {op.scope.value} scope")
    path = dict(request.match_info)
    for name, pattern in op.path_patterns.items():
        if not re.fullmatch(pattern, path.get(name, "")):
            raise ApiError(404, "not_found", f"no such {name.replace('_', ' ')}")
    query = None
    if op.query is not None:
        try:
            query = op.query.model_validate(_query_dict(request))
        except ValidationError as exc:
            raise _validation_error(exc, "query") from exc
    elif request.query:
        raise ApiError(422, "validation_error", "this operation takes no query parameters",
                       field=next(iter(request.query)))
    body = None
    if op.body is not None:
        try:
            body = op.body.model_validate(await _json_body(request))
        except ValidationError as exc:
            raise _validation_error(exc, "body") from exc
    result = await op.handler(Call(request=request, principal=principal, path=path,
                                   query=query, body=body))
    if isinstance(result, web.StreamResponse):
        return result
    return web.json_response(result.model_dump(mode="json"), status=op.status)


def _query_dict(request: web.Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1:
            raise ApiError(422, "validation_error", f"{key}: give it once", field=key)
        out[key] = values[0]
    return out


async def _json_body(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        return parse_json(raw, max_depth=MAX_NESTING)
    except JsonRejected as exc:
        if exc.too_deep:
            raise ApiError(400, "bad_json",
                           f"the body nests deeper than {MAX_NESTING} levels") from None
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
