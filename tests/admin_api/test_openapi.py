"""/api/v1/openapi.json: public, a valid OpenAPI 3.1 document, and the same table the routes
are made from (every operation, its method, path, scope and documented answers)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from session_studio.admin_ui._operations import Operation
from session_studio.policy import Permission

from .conftest import AdminPlane
from .operations import OPERATIONS, op_id


async def _document(admin: AdminPlane) -> dict[str, Any]:
    async with admin.client.get("/api/v1/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        document: dict[str, Any] = await response.json()
        return document


def _openapi_path(op: Operation) -> str:
    return "/api/v1" + op.path


async def test_the_document_is_readable_without_credentials(admin: AdminPlane) -> None:
    document = await _document(admin)

    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == "0.0.0-test"


async def test_the_document_is_valid_openapi_3_1(admin: AdminPlane) -> None:
    document = await _document(admin)

    # Checked against the OpenAPI 3.1 meta-schema Schemathesis carries (jsonschema_rs).
    schemathesis.openapi.from_dict(document).validate()


async def test_every_operation_of_the_table_is_documented_and_nothing_else(
        admin: AdminPlane) -> None:
    document = await _document(admin)

    documented = {(method.upper(), path, op["operationId"])
                  for path, methods in document["paths"].items()
                  for method, op in methods.items()}
    assert documented == {(op.method, _openapi_path(op), op.operation_id)
                          for op in OPERATIONS}


@pytest.mark.parametrize("op", OPERATIONS, ids=op_id)
async def test_each_operation_documents_its_success_and_error_answers(
        admin: AdminPlane, op: Operation) -> None:
    document = await _document(admin)
    entry = document["paths"][_openapi_path(op)][op.method.lower()]

    responses = entry["responses"]
    assert str(op.status) in responses
    for code in ("400", "404", "413", "422"):
        assert code in responses
    if op.scope is None:
        assert "security" not in entry
        assert "401" not in responses
    else:
        assert entry["security"] == [{"bearer": []}, {"cookie": []}]
        assert {"401", "403"} <= set(responses)
    assert ("requestBody" in entry) == (op.body is not None)
    error = responses["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}


async def test_path_parameters_carry_the_patterns_the_routes_enforce(
        admin: AdminPlane) -> None:
    document = await _document(admin)

    get_session = document["paths"]["/api/v1/sessions/{key_hash}"]["get"]
    [key_hash] = [p for p in get_session["parameters"] if p["name"] == "key_hash"]
    assert key_hash["in"] == "path"
    assert key_hash["schema"]["pattern"] == r"0x[0-9a-fA-F]{64}"


QUERY_OPERATIONS = [op for op in OPERATIONS if op.query is not None]


@pytest.mark.parametrize("op", QUERY_OPERATIONS, ids=op_id)
async def test_every_query_parameter_is_documented(admin: AdminPlane, op: Operation) -> None:
    document = await _document(admin)

    entry = document["paths"][_openapi_path(op)][op.method.lower()]
    documented = {p["name"] for p in entry.get("parameters", []) if p["in"] == "query"}
    assert op.query is not None
    assert documented == set(op.query.model_fields)


def test_the_listing_takes_the_contracts_filters_sorts_and_pagination() -> None:
    [listing] = [op for op in OPERATIONS if op.operation_id == "listSessions"]

    assert listing.query is not None
    assert {"type", "status", "chain", "agent", "label", "sort", "cursor",
            "limit"} <= set(listing.query.model_fields)


async def test_money_is_documented_as_a_decimal_string(admin: AdminPlane) -> None:
    document = await _document(admin)

    limits = document["components"]["schemas"]["Limits"]["properties"]
    assert limits["per_tx"]["type"] == "string"
    assert limits["daily"]["type"] == "string"


async def test_both_ways_to_authenticate_are_documented(admin: AdminPlane) -> None:
    document = await _document(admin)

    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer",
                                 "description": "admin API token (ssa_...)"}
    assert schemes["cookie"]["in"] == "cookie"
    assert schemes["cookie"]["name"] == "studio_session"


async def test_the_permission_enum_is_the_policy_s_closed_set_sign_digest_included(
        admin: AdminPlane) -> None:
    # Sessions and agent ceilings name permissions through this one schema (POLICY.md table).
    document = await _document(admin)

    permission = document["components"]["schemas"]["Permission"]
    assert permission["enum"] == [p.value for p in Permission]
    assert "sign_digest" in permission["enum"]
