"""A change and its audit row are one transaction (docs/design.md, "The audit trail"), and an
invite cannot race a registration of the same admin name."""

from __future__ import annotations

import os

import pytest
from session_studio.store import (
    Admin,
    AuditEvent,
    Conflict,
    Passkey,
    SetupLink,
    SqliteStore,
    Workspace,
    new_id,
)

from .conftest import T0


def _link(workspace: Workspace, name: str) -> SetupLink:
    return SetupLink(token_hash=os.urandom(32), workspace_id=workspace.id, admin_name=name,
                     created_at_ms=T0, expires_at_ms=T0 + 3_600_000)


def _invited(workspace: Workspace, name: str) -> AuditEvent:
    return AuditEvent(workspace_id=workspace.id, actor="cli:test", action="admin.invite",
                      subject=name)


async def _register(store: SqliteStore, workspace: Workspace, name: str) -> None:
    link = _link(workspace, name)
    await store.invite_admin(link, now_ms=T0, audit=_invited(workspace, name))
    admin = Admin(id=new_id(), workspace_id=workspace.id, name=name,
                  user_handle=os.urandom(32), created_at_ms=T0)
    passkey = Passkey(credential_id=os.urandom(16), admin_id=admin.id,
                      public_key=os.urandom(32), sign_count=0, backed_up=False,
                      created_at_ms=T0)
    await store.register_admin(admin, passkey, setup_hash=link.token_hash, now_ms=T0)


async def test_a_workspace_and_its_audit_row_are_written_together(store: SqliteStore) -> None:
    workspace_id = new_id()
    ws = await store.create_workspace("audited", now_ms=T0, workspace_id=workspace_id,
                                      audit=AuditEvent(workspace_id=workspace_id, actor="cli:t",
                                                       action="workspace.create",
                                                       subject="audited"))
    assert ws.id == workspace_id
    [entry] = await store.audit_entries(workspace_id=ws.id)
    assert (entry.action, entry.subject) == ("workspace.create", "audited")


async def test_a_refused_workspace_leaves_no_audit_row(store: SqliteStore,
                                                       workspace: Workspace) -> None:
    before = await store.audit_entries(workspace_id=None)
    workspace_id = new_id()
    with pytest.raises(Conflict):
        await store.create_workspace(
            workspace.name, now_ms=T0, workspace_id=workspace_id,
            audit=AuditEvent(workspace_id=workspace_id, actor="cli:t",
                             action="workspace.create", subject=workspace.name))
    assert await store.audit_entries(workspace_id=None) == before


async def test_an_invite_and_its_audit_row_are_written_together(
        store: SqliteStore, workspace: Workspace) -> None:
    link = _link(workspace, "bob")
    await store.invite_admin(link, now_ms=T0, audit=_invited(workspace, "bob"))
    assert await store.setup_link(link.token_hash, now_ms=T0) == link
    [entry] = await store.audit_entries(workspace_id=workspace.id)
    assert (entry.action, entry.subject) == ("admin.invite", "bob")


async def test_an_invite_for_a_taken_admin_name_is_refused_without_a_link_or_audit_row(
        store: SqliteStore, workspace: Workspace) -> None:
    await _register(store, workspace, "alice")
    before = await store.audit_entries(workspace_id=workspace.id)
    link = _link(workspace, "alice")
    with pytest.raises(Conflict, match="already exists"):
        await store.invite_admin(link, now_ms=T0, audit=_invited(workspace, "alice"))
    assert await store.setup_link(link.token_hash, now_ms=T0) is None
    assert await store.audit_entries(workspace_id=workspace.id) == before


async def test_the_same_admin_name_may_be_invited_in_another_workspace(
        store: SqliteStore, workspace: Workspace) -> None:
    await _register(store, workspace, "alice")
    other = await store.create_workspace("other", now_ms=T0)
    await store.invite_admin(_link(other, "alice"), now_ms=T0, audit=_invited(other, "alice"))
