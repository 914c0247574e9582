"""A session's `approve_above` (issue 14) through every door that creates a session, and every
view of one: the session service's own checks, the admin API, the New Session form and the
session page, an agent's ceiling over self-service, and rotation.

The threshold is decimal text in the limit unit like the limits it sits with (`limits`), null
when nothing is held. It may not exceed the per-tx cap: per_tx refuses a costlier request
outright, so a higher threshold would hold nothing while the operator believes it does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from session_studio.policy import Permission, parse_amount
from session_studio.proxy import SelfServiceRefused
from session_studio.store import AgentCeiling, CredentialOwner, SessionFilter, SessionType

from session_studio.services import AgentDesk, InvalidSpec, SessionSpec

from .conftest import LOCAL_CHAIN, AdminPlane, session_body

SPEC = SessionSpec(type=SessionType.APP, label="held", agent=None, chain_ids=(LOCAL_CHAIN,),
                   permissions=(Permission.TRANSFER,), tokens=("ETH",), limit_unit="USD",
                   per_tx=parse_amount("50"), daily=parse_amount("100"), lifetime_s=3600,
                   approve_above=parse_amount("20"))


# -- the service ------------------------------------------------------------------------------
async def test_a_threshold_is_kept_on_the_session_and_in_its_policy(admin: AdminPlane) -> None:
    ws = admin.workspaces["alpha"]
    artifact = await admin.studio.service.create_session(ws, SPEC, actor="cli:test")

    session = await admin.studio.service.get_session(ws, artifact.key_hash)

    assert session.approve_above == parse_amount("20")
    assert session.policy().approve_above == parse_amount("20")


async def test_the_artifact_tells_an_agent_runtime_its_threshold(admin: AdminPlane) -> None:
    artifact = await admin.studio.service.create_session(admin.workspaces["alpha"], SPEC,
                                                         actor="cli:test")

    assert artifact.as_json()["limits"] == {"unit": "USD", "per_tx": "50", "daily": "100",
                                            "approve_above": "20"}


async def test_the_view_and_the_export_show_the_threshold_with_the_limits(
        admin: AdminPlane) -> None:
    ws = admin.workspaces["alpha"]
    created = await admin.studio.service.create_session(ws, SPEC, actor="cli:test")

    view = await admin.studio.service.describe(
        await admin.studio.service.get_session(ws, created.key_hash))
    exported = await admin.studio.service.export(ws, created.key_hash, actor="cli:test")

    assert view.as_json()["limits"]["approve_above"] == "20"
    assert exported.as_json()["limits"]["approve_above"] == "20"


async def test_a_session_without_a_threshold_shows_null(admin: AdminPlane) -> None:
    artifact = await admin.studio.service.create_session(
        admin.workspaces["alpha"], replace(SPEC, approve_above=None), actor="cli:test")

    assert artifact.as_json()["limits"]["approve_above"] is None


async def test_rotation_keeps_the_threshold(admin: AdminPlane) -> None:
    ws = admin.workspaces["alpha"]
    created = await admin.studio.service.create_session(ws, SPEC, actor="cli:test")

    successor = await admin.studio.service.rotate(ws, created.key_hash, actor="cli:test")

    assert successor.limits.approve_above == "20"
    assert (await admin.studio.service.get_session(ws, successor.key_hash)).approve_above == \
        parse_amount("20")


@pytest.mark.parametrize(("threshold", "problem"), [
    (parse_amount("50.000001"), "must not exceed the per-transaction limit"),
    (-1, "must not be negative"),
])
async def test_a_threshold_that_would_never_hold_or_is_negative_is_refused(
        admin: AdminPlane, threshold: int, problem: str) -> None:
    with pytest.raises(InvalidSpec) as refused:
        await admin.studio.service.create_session(
            admin.workspaces["alpha"], replace(SPEC, approve_above=threshold),
            actor="cli:test")

    assert refused.value.field == "approve_above"
    assert problem in refused.value.problem


async def test_a_threshold_of_the_per_tx_cap_or_zero_is_accepted(admin: AdminPlane) -> None:
    for threshold in (parse_amount("50"), 0):
        artifact = await admin.studio.service.create_session(
            admin.workspaces["alpha"], replace(SPEC, approve_above=threshold), actor="cli:test")
        assert artifact.as_json()["limits"]["approve_above"] in ("50", "0")


# -- the admin API ----------------------------------------------------------------------------
async def test_the_api_creates_a_session_with_a_threshold(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await admin.register_agent(writer, "bot")

    artifact = await admin.create_session(writer, agent="bot", approve_above="7.5")
    shown = (await admin.get(f"/sessions/{artifact['key_hash']}", auth=writer)).body

    assert artifact["limits"]["approve_above"] == "7.5"
    assert shown["limits"]["approve_above"] == "7.5"


async def test_the_api_refuses_a_threshold_over_the_per_tx_limit_naming_the_field(
        admin: AdminPlane) -> None:
    writer = await admin.writer()
    await admin.register_agent(writer, "bot")

    reply = await admin.post("/sessions", session_body(agent="bot", approve_above="10.01"),
                             auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "approve_above"


async def test_the_api_refuses_a_threshold_that_is_not_an_amount(admin: AdminPlane) -> None:
    writer = await admin.writer()
    await admin.register_agent(writer, "bot")

    reply = await admin.post("/sessions", session_body(agent="bot", approve_above="-1"),
                             auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "approve_above"


async def test_an_agent_ceiling_with_a_threshold_is_registered_and_listed(
        admin: AdminPlane) -> None:
    writer = await admin.writer()
    ceiling = {"permissions": ["transfer"], "chain_ids": [LOCAL_CHAIN], "tokens": ["ETH"],
               "per_tx_limit": "10", "daily_limit": "100", "max_lifetime": "1d",
               "max_live_sessions": 2, "approve_above": "4"}

    registered = await admin.post("/agents", {"name": "bot", "ceiling": ceiling}, auth=writer)
    listed = (await admin.get("/agents", auth=writer)).body["items"]

    assert registered.status == 201, registered.body
    assert registered.body["ceiling"]["approve_above"] == "4"
    assert listed[0]["ceiling"]["approve_above"] == "4"


async def test_an_agent_ceiling_threshold_over_its_per_tx_is_refused(admin: AdminPlane) -> None:
    writer = await admin.writer()
    ceiling = {"permissions": ["transfer"], "chain_ids": [LOCAL_CHAIN], "tokens": ["ETH"],
               "per_tx_limit": "10", "daily_limit": "100", "max_lifetime": "1d",
               "max_live_sessions": 2, "approve_above": "11"}

    reply = await admin.post("/agents", {"name": "bot", "ceiling": ceiling}, auth=writer)

    assert reply.status == 422
    assert reply.error["field"] == "approve_above"


# -- agent self-service under a ceiling -------------------------------------------------------
CEILING = AgentCeiling(permissions=(Permission.TRANSFER,), chain_ids=(LOCAL_CHAIN,),
                       tokens=("ETH",), limit_unit="USD", per_tx=parse_amount("10"),
                       daily=parse_amount("100"), max_lifetime_s=86400, max_live_sessions=5,
                       approve_above=parse_amount("4"))
CONFIG: dict[str, Any] = {"label": "self", "chain_ids": [LOCAL_CHAIN],
                          "permissions": ["transfer"], "tokens": ["ETH"],
                          "per_tx_limit": "10", "daily_limit": "50", "expires_in": "1h"}


async def _desk_and_owner(admin: AdminPlane,
                          ceiling: AgentCeiling) -> tuple[AgentDesk, CredentialOwner]:
    ws = admin.workspaces["alpha"]
    agent, _ = await admin.studio.service.register_agent(ws, "bot", None, actor="cli:test",
                                                         ceiling=ceiling)
    return (AgentDesk(service=admin.studio.service),
            CredentialOwner(workspace_id=ws.id, kind="agent", owner_id=agent.id))


async def test_a_self_created_session_asking_for_no_threshold_gets_the_ceilings(
        admin: AdminPlane) -> None:
    desk, owner = await _desk_and_owner(admin, CEILING)

    created = await desk.create_session(owner, CONFIG)

    assert created.limits.approve_above == "4"


async def test_a_self_created_session_may_ask_for_a_lower_threshold(admin: AdminPlane) -> None:
    desk, owner = await _desk_and_owner(admin, CEILING)

    created = await desk.create_session(owner, {**CONFIG, "approve_above": "1.5"})

    assert created.limits.approve_above == "1.5"


async def test_a_self_created_session_asking_for_a_higher_threshold_is_beyond_the_ceiling(
        admin: AdminPlane) -> None:
    desk, owner = await _desk_and_owner(admin, CEILING)

    with pytest.raises(SelfServiceRefused) as refused:
        await desk.create_session(owner, {**CONFIG, "approve_above": "4.01"})

    assert (refused.value.reason, refused.value.field) == ("ceiling_exceeded", "approve_above")


async def test_under_a_ceiling_without_a_threshold_nothing_is_held_unless_asked(
        admin: AdminPlane) -> None:
    desk, owner = await _desk_and_owner(admin, replace(CEILING, approve_above=None))

    plain = await desk.create_session(owner, CONFIG)
    asked = await desk.create_session(owner, {**CONFIG, "approve_above": "9"})

    assert plain.limits.approve_above is None
    assert asked.limits.approve_above == "9"


async def test_a_self_rotated_session_keeps_its_threshold(admin: AdminPlane) -> None:
    desk, owner = await _desk_and_owner(admin, CEILING)
    created = await desk.create_session(owner, CONFIG)

    successor = await desk.rotate(owner, created.key_hash)

    assert successor.limits.approve_above == "4"


# -- the New Session form and the session page -------------------------------------------------
async def _page(admin: AdminPlane, method: str, path: str, cookie: str,
                data: dict[str, str] | None = None) -> tuple[int, str]:
    async with admin.client.request(method, path, data=data, allow_redirects=False,
                                    headers={"Cookie": f"studio_session={cookie}"}) as answer:
        return answer.status, answer.headers.get("Location", "") + await answer.text()


async def _form(admin: AdminPlane, **fields: str) -> tuple[int, str, str]:
    """Post the New Session form (agent tab: no step-up) as a logged-in admin."""
    login = await admin.register()
    await admin.register_agent(await admin.writer(), "bot")
    form = {"csrf": login.csrf, "type": "agent", "agent": "bot", "label": "held by form",
            "chain_ids": str(LOCAL_CHAIN), "permissions": "transfer", "tokens": "ETH",
            "limit_unit": "USD", "per_tx_limit": "10", "daily_limit": "100",
            "expires_in": "7d", **fields}
    status, text = await _page(admin, "POST", "/sessions/new", login.cookie, form)
    return status, text, login.cookie


async def test_the_new_session_form_offers_the_threshold_with_help(admin: AdminPlane) -> None:
    login = await admin.register()

    status, text = await _page(admin, "GET", "/sessions/new?type=agent", login.cookie)

    assert status == 200
    assert 'name="approve_above"' in text
    assert "Hold for approval above" in text


async def test_the_form_creates_a_session_whose_page_shows_the_threshold(
        admin: AdminPlane) -> None:
    status, text, cookie = await _form(admin, approve_above="2.5")
    sessions = await admin.studio.service.list_sessions(admin.workspaces["alpha"],
                                                        SessionFilter())

    assert status in (200, 303), text
    assert [s.approve_above for s in sessions] == [parse_amount("2.5")]
    page_status, page = await _page(admin, "GET", f"/sessions/{sessions[0].key_hash}", cookie)
    assert page_status == 200
    assert "Hold for approval above" in page
    assert "2.5 USD" in page


async def test_the_form_names_a_threshold_over_the_per_tx_limit(admin: AdminPlane) -> None:
    status, text, _ = await _form(admin, approve_above="11")

    assert status == 422
    assert "Hold for approval above: must not exceed the per-transaction limit" in text
    assert 'value="11"' in text
