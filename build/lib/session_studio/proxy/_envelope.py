"""JSON-RPC 2.0 envelope: parse a body into calls, render results, by the letter of the spec.

`id` is echoed exactly (null when unreadable); notifications get no response, inside a batch
too; an empty batch or a batch over the cap is one -32600 error; a batch of only notifications
answers nothing at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from session_studio.basics import JsonRejected, parse_json

from ._errors import InvalidParams, InvalidRequest, ParseError, RpcError

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: list[Any]
    id: Any  # _MISSING for a notification
    valid_id: bool = True

    @property
    def is_notification(self) -> bool:
        return self.id is _MISSING


MAX_NESTING = 64  # a JSON-RPC request needs a handful of levels; typed data a few more


def parse_body(body: bytes) -> Any:
    """Strict UTF-8 JSON in linear time (session_studio.basics._json): NaN, Infinity and lone
    surrogates are refused, duplicate keys keep the last, integers stay exact."""
    try:
        return parse_json(body, max_depth=MAX_NESTING)
    except JsonRejected as exc:
        if exc.too_deep:
            raise ParseError(f"parse error: JSON nested deeper than {MAX_NESTING} levels") from None
        raise ParseError("parse error: body is not valid JSON") from None


def _valid_id(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def parse_call(entry: Any) -> Call | RpcError:
    """One request object, or the error to answer it with (carrying its id when readable)."""
    if not isinstance(entry, dict):
        return InvalidRequest("invalid request: expected a JSON object")
    raw_id = entry.get("id", _MISSING)
    id_ok = raw_id is _MISSING or _valid_id(raw_id)
    call_id = raw_id if id_ok else None
    if entry.get("jsonrpc") != "2.0":
        return _with_id(InvalidRequest('invalid request: "jsonrpc" must be "2.0"'), call_id)
    if not id_ok:
        return _with_id(InvalidRequest("invalid request: id must be a string, integer or null"),
                        None)
    method = entry.get("method")
    if not isinstance(method, str) or not method:
        return _with_id(InvalidRequest('invalid request: "method" must be a string'), call_id)
    params = entry.get("params", [])
    if isinstance(params, dict):
        return _with_id(InvalidParams("invalid params: expected a positional array"), call_id)
    if not isinstance(params, list):
        return _with_id(InvalidRequest('invalid request: "params" must be an array'), call_id)
    return Call(method=method, params=params, id=raw_id)


def _with_id(error: RpcError, call_id: Any) -> RpcError:
    error.call_id = call_id  # type: ignore[attr-defined]
    return error


def error_response(error: RpcError, call_id: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None if call_id is _MISSING else call_id,
            "error": error.to_json()}


def result_response(result: Any, call_id: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "result": result}


Dispatch = Callable[[Call], Awaitable[Any]]


async def answer_one(entry: Any, dispatch: Dispatch) -> dict[str, Any] | None:
    """The response to one request object, or None for a notification."""
    parsed = parse_call(entry)
    if isinstance(parsed, RpcError):
        # A well-formed notification (jsonrpc 2.0, a method, no id) is never answered, even
        # when its params are unusable; anything not readable as a request is (spec, section 5).
        if isinstance(parsed, InvalidParams) and isinstance(entry, dict) and "id" not in entry:
            return None
        return error_response(parsed, getattr(parsed, "call_id", None))
    try:
        result = await dispatch(parsed)
    except RpcError as error:
        return None if parsed.is_notification else error_response(error, parsed.id)
    return None if parsed.is_notification else result_response(result, parsed.id)


async def answer_body(payload: Any, dispatch: Dispatch, *, max_batch: int) -> Any:
    """Response payload for a whole body: an object, a list, or None (answer nothing)."""
    if isinstance(payload, list):
        if not payload:
            return error_response(InvalidRequest("invalid request: empty batch"), None)
        if len(payload) > max_batch:
            return error_response(
                InvalidRequest(f"batch too large: {len(payload)} requests, at most {max_batch}"),
                None)
        # Sequential on purpose: signing requests in a batch get nonces in batch order, and the
        # caps are checked one by one exactly as for separate requests.
        answers = [await answer_one(entry, dispatch) for entry in payload]
        kept = [a for a in answers if a is not None]
        return kept or None
    return await answer_one(payload, dispatch)
