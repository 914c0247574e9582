"""Bad input: 422 naming the field, 400 for a body that is not JSON, 413 for an oversized one,
404 for what does not exist; never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from .conftest import UNCONFIGURED_CHAIN, AdminPlane, Bearer, session_body

MAX_BODY_BYTES = 256 * 1024
SQLITE_MAX_INTEGER = 2**63 - 1


async def _writer_with_bot(admin: AdminPlane) -> Bearer:
    writer = await admin.writer()
    await admin.register_agent(writer, "bot")
    return writer


def _cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- session bodies -------------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "field"), [
    ({"per_tx_limit": "1e5"}, "per_tx_limit"),
    ({"per_tx_limit": "-5"}, "per_tx_limit"),
    ({"daily_limit": "10,5"}, "daily_limit"),
    ({"daily_limit": 100}, "daily_limit"),  # money is a string, never a number
    ({"per_tx_limit": "0.0000000000000000001"}, "per_tx_limit"),  # 19 decimals
    ({"daily_limit": "0"}, "daily_limit"),
    ({"per_tx_limit": "200", "daily_limit": "100"}, "per_tx_limit"),
    ({"chain_ids": [UNCONFIGURED_CHAIN]}, "chain_ids"),
    ({"chain_ids": []}, "chain_ids"),
    ({"chain_ids": [-1]}, "chain_ids.0"),
    ({"permissions": ["teleport"]}, "permissions.0"),
    ({"permissions": []}, "permissions"),
    ({"tokens": ["DOGE"]}, "tokens"),
    ({"limit_unit": "DOGE"}, "limit_unit"),
    ({"expires_in": "7 days"}, "expires_in"),
    ({"expires_in": "400d"}, "expires_in"),
    ({"expires_in": "0"}, "expires_in"),
    ({"label": ""}, "label"),
    ({"label": "   "}, "label"),
    ({"type": "robot"}, "type"),
    ({"agent": "no spaces allowed"}, "agent"),
    ({"recipients": ["0x1234"]}, "recipients.0"),
    ({"recipients": []}, "recipients"),
    ({"contracts": {"0x" + "11" * 20: ["0x1234"]}}, "contracts"),
    ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
    ({"max_fee_per_gas_gwei": "0"}, "max_fee_per_gas_gwei"),
    ({"max_fee_per_gas_gwei": "1.0000000001"}, "max_fee_per_gas_gwei"),
    ({"colour": "blue"}, "colour"),  # unknown fields are refused, not ignored
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else v)
async def test_an_invalid_session_body_is_422_naming_the_field(
        admin: AdminPlane, fields: dict[str, Any], field: str) -> None:
    writer = await _writer_with_bot(admin)

    reply = await admin.post("/sessions", {**session_body(agent="bot"), **fields}, auth=writer)

    assert reply.status == 422, reply.body
    assert reply.error["code"] == "validation_error"
    assert reply.error["field"].startswith(field), reply.error
    assert (await admin.get("/sessions", auth=writer)).body["items"] == []


async def test_a_missing_required_field_is_named(admin: AdminPlane) -> None:
    writer = await _writer_with_bot(admin)
    body = session_body(agent="bot")
    del body["daily_limit"]

    reply = await admin.post("/sessions", body, auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "daily_limit"


async def test_an_agent_session_without_an_agent_names_the_field(admin: AdminPlane) -> None:
    writer = await _writer_with_bot(admin)

    reply = await admin.post("/sessions", session_body(), auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "agent"


async def test_an_app_session_naming_an_agent_names_the_field(admin: AdminPlane) -> None:
    login = await admin.register()
    await admin.register_agent(login, "bot")

    reply = await admin.post("/sessions", session_body(type="app", agent="bot"), auth=login)

    assert reply.status == 422
    assert reply.error["field"] == "agent"


async def test_a_zero_per_tx_limit_names_per_tx_limit(admin: AdminPlane) -> None:
    writer = await _writer_with_bot(admin)

    reply = await admin.post("/sessions", session_body(agent="bot", per_tx_limit="0"),
                             auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "per_tx_limit"


async def test_an_unknown_agent_is_422_naming_the_field(admin: AdminPlane) -> None:
    writer = await admin.writer()

    reply = await admin.post("/sessions", session_body(agent="nobody"), auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "agent"


# -- bodies that are not what an operation takes --------------------------------------------
@pytest.mark.parametrize("raw", [b"not json", b"{", b'{"type": "agent",}', b"\xff\xfe"])
async def test_a_body_that_is_not_json_is_400(admin: AdminPlane, raw: bytes) -> None:
    writer = await _writer_with_bot(admin)

    reply = await admin.call("POST", "/sessions", auth=writer, data=raw,
                             headers={"Content-Type": "application/json"})

    assert reply.status == 400
    assert reply.error["code"] == "bad_json"


@pytest.mark.parametrize("body", [[], "a string", 42, None])
async def test_a_json_body_that_is_not_an_object_is_422(admin: AdminPlane, body: Any) -> None:
    writer = await _writer_with_bot(admin)

    reply = await admin.call("POST", "/sessions", auth=writer, data=json.dumps(body),
                             headers={"Content-Type": "application/json"})

    assert reply.status == 422
    assert reply.error["code"] == "validation_error"


async def test_an_oversized_body_is_413(admin: AdminPlane) -> None:
    writer = await _writer_with_bot(admin)
    body = session_body(agent="bot", label="x" * (MAX_BODY_BYTES + 1))

    reply = await admin.post("/sessions", body, auth=writer)

    assert reply.status == 413
    assert reply.error["code"] == "too_large"


async def test_an_oversized_body_without_a_content_length_is_413(admin: AdminPlane) -> None:
    writer = await _writer_with_bot(admin)

    async def chunks() -> Any:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    reply = await admin.call("POST", "/sessions/bulk-revoke", auth=writer, data=chunks(),
                             headers={"Content-Type": "application/json"})

    assert reply.status == 413


async def test_a_body_sent_to_an_operation_without_one_is_ignored(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    writer = await admin.writer()

    reply = await admin.post(f"/sessions/{seeded['key_hash']}/revoke", {"reason": "x"},
                             auth=writer)

    assert reply.status == 200


# -- query parameters -----------------------------------------------------------------------
@pytest.mark.parametrize(("params", "field"), [
    ({"sort": "name"}, "sort"),
    ({"sort": "created,expiry"}, "sort"),
    ({"cursor": "%%%"}, "cursor"),
    ({"cursor": "bm90IGpzb24"}, "cursor"),
    ({"cursor": _cursor({"a": 1})}, "cursor"),
    ({"cursor": _cursor("-created", "ten", "id")}, "cursor"),
    ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"type": "robot"}, "type"),
    ({"status": "sleeping"}, "status"),
    ({"chain": "base"}, "chain"),
    ({"chain": "-1"}, "chain"),
    ({"agent": "a b"}, "agent"),
    ({"colour": "blue"}, "colour"),
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else v)
async def test_an_invalid_listing_query_is_422_naming_the_parameter(
        admin: AdminPlane, params: dict[str, str], field: str) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.get("/sessions", auth=reader, params=params)

    assert reply.status == 422, reply.body
    assert reply.error["field"] == field


async def test_a_repeated_query_parameter_is_422(admin: AdminPlane) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.call("GET", "/sessions?type=app&type=agent", auth=reader)

    assert reply.status == 422
    assert reply.error["field"] == "type"


async def test_a_query_parameter_on_an_operation_without_any_is_422(admin: AdminPlane) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/{seeded['key_hash']}", auth=reader,
                            params={"verbose": "1"})

    assert reply.status == 422
    assert reply.error["field"] == "verbose"


@pytest.mark.parametrize("limit", ["0", "501", "-3"])
async def test_an_invalid_events_limit_names_the_field(admin: AdminPlane, limit: str) -> None:
    seeded = await admin.seed_session()
    reader = await admin.token("sessions:read")

    reply = await admin.get(f"/sessions/{seeded['key_hash']}/events", auth=reader,
                            params={"limit": limit})

    assert reply.status == 422
    assert reply.error["field"] == "limit"


async def test_an_unknown_api_path_is_a_json_404(admin: AdminPlane) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.get("/nothing-here", auth=reader)

    assert reply.status == 404
    assert reply.error["code"] == "not_found"


async def test_an_unsupported_method_is_a_json_error(admin: AdminPlane) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.call("DELETE", "/sessions", auth=reader)

    assert reply.status == 405
    assert "error" in reply.body


# -- integers beyond SQLite's range (found by Schemathesis) ----------------------------------
async def test_a_listing_chain_beyond_sqlites_integers_is_not_a_server_error(
        admin: AdminPlane) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.get("/sessions", auth=reader,
                            params={"chain": str(SQLITE_MAX_INTEGER + 1)})

    assert reply.status == 422
    assert reply.error["field"] == "chain"


async def test_a_bulk_revoke_chain_beyond_sqlites_integers_is_not_a_server_error(
        admin: AdminPlane) -> None:
    writer = await admin.writer()

    reply = await admin.post("/sessions/bulk-revoke",
                             {"chain": SQLITE_MAX_INTEGER + 1, "dry_run": True}, auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "chain"


async def test_a_crafted_cursor_beyond_sqlites_integers_is_not_a_server_error(
        admin: AdminPlane) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.get("/sessions", auth=reader, params={
        "sort": "-created", "cursor": _cursor("-created", SQLITE_MAX_INTEGER + 1, "x")})

    assert reply.status == 422
    assert reply.error["field"] == "cursor"


async def test_an_audit_position_beyond_sqlites_integers_is_not_a_server_error(
        admin: AdminPlane) -> None:
    reader = await admin.token("sessions:read")

    reply = await admin.get("/audit", auth=reader,
                            params={"after": str(SQLITE_MAX_INTEGER + 1)})

    assert reply.status == 422
    assert reply.error["field"] == "after"
