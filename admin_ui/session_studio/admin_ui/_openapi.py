"""`/api/v1/openapi.json`, generated from the `Operation` table and its pydantic models."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ._operations import COOKIE, CSRF_HEADER, Operation
from ._schemas import ErrorBody

_REF = "#/components/schemas/{model}"
_ERRORS = {400: "malformed request", 401: "not authenticated", 403: "not allowed",
           404: "no such resource in your workspace", 409: "conflicts with the current state",
           413: "body too large", 422: "validation error (names the field)",
           503: "database unavailable"}


def build_openapi(operations: Sequence[Operation], *, version: str,
                  prefix: str = "/api/v1") -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for op in operations:
        models.update(m for m in (op.response, op.query, op.body) if m is not None)
    schemas, defs = _model_schemas(tuple(sorted(models, key=lambda m: m.__name__)))
    components = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(_openapi_path(prefix + op.path), {})[op.method.lower()] = \
            _operation(op, schemas, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Session Studio admin API", "version": version,
                 "description": "Manage sessions, agents and admin API tokens of one "
                                "workspace. Authenticate with a passkey login cookie (send "
                                f"{CSRF_HEADER} on changes) or `Authorization: Bearer` with an "
                                "admin API token."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "admin API token (ssa_...)"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
            },
        },
    }


def _model_schemas(models: tuple[type[BaseModel], ...]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """What `models_json_schema` answers for `models`, each call a fresh copy: no two documents
    share a dict."""
    per_model, defs = json.loads(_model_schemas_json(models))
    return {(m, "validation"): schema for m, schema in zip(models, per_model, strict=True)}, defs


@functools.cache
def _model_schemas_json(models: tuple[type[BaseModel], ...]) -> str:
    """pydantic's schema generation is most of the cost of building an admin app (some 30 ms)
    and depends only on the model classes, which never change while the process runs: it runs
    once per set of models, kept as JSON text (copied by `json.loads` far faster than by
    `copy.deepcopy`)."""
    schemas, defs = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    return json.dumps([[schemas[(m, "validation")] for m in models], defs])


def _openapi_path(path: str) -> str:
    return re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A model's schema is a `$ref` into the components; parameters need its properties."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        resolved: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _operation(op: Operation, schemas: dict[Any, Any],
               components: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                           "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", **({"pattern": op.path_patterns[name]}
                                         if name in op.path_patterns else {})}}
        for name in re.findall(r"\{(\w+)", op.path)]
    if op.query is not None:
        query_schema = _resolve(schemas[(op.query, "validation")], components)
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required,
                           "schema": prop})
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": schemas[(op.body, "validation")]}}}
    responses: dict[str, Any] = {str(op.status): {
        "description": "success",
        "content": {"application/json": {"schema": schemas[(op.response, "validation")]}}}}
    error_schema = {"content": {"application/json": {"schema": {"$ref": _REF.format(
        model="ErrorBody")}}}}
    codes = [400, 404, 413, 422, 503]
    if op.scope is not None:
        codes += [401, 403]
        out["security"] = [{"bearer": []}, {"cookie": []}]
    if op.is_mutation:
        codes.append(409)
    for code in sorted(set(codes)):
        responses[str(code)] = {"description": _ERRORS[code], **error_schema}
    out["responses"] = responses
    return out
