"""AuditLog contract: whoever appends, the entries form one unbroken, verifiable chain, and a
change's audit row commits with the change."""

from __future__ import annotations

import asyncio
import os

from session_studio.store import AuditEvent, Store, Workspace

from ..conftest import ETHER, T0, insert_session, new_session, reserve


def _event(workspace: Workspace, n: int) -> AuditEvent:
    return AuditEvent(workspace_id=workspace.id, actor="contract", action="test.view",
                      subject=f"subject-{n}", detail={"n": n})


async def test_concurrent_appends_form_one_verifiable_chain(store: Store,
                                                            workspace: Workspace) -> None:
    await asyncio.gather(*(store.append_audit(_event(workspace, n), now_ms=T0 + n)
                           for n in range(20)))
    verdict = await store.verify_audit()
    assert verdict.ok and verdict.first_broken_seq is None
    entries = await store.audit_entries(workspace_id=workspace.id)
    seqs = [entry.seq for entry in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert sorted(e.subject for e in entries if e.action == "test.view") == sorted(
        f"subject-{n}" for n in range(20))


async def test_a_mutation_and_its_audit_row_commit_together(store: Store,
                                                            workspace: Workspace) -> None:
    session = new_session(workspace)
    event = AuditEvent(workspace_id=workspace.id, actor="contract", action="session.create",
                       subject=session.key_hash)
    await store.insert_session(session, sealed_key=os.urandom(96),
                               credential_hash=os.urandom(32), audit=event)
    entries = await store.audit_entries(workspace_id=workspace.id, subject=session.key_hash)
    assert [e.action for e in entries] == ["session.create"]
    assert (await store.verify_audit()).ok


async def test_a_read_sees_every_decision_committed_before_it(store: Store,
                                                              workspace: Workspace) -> None:
    """However a backend chains (inline, or in a later batch), a read right after concurrent
    signing decisions of many sessions returns each of them, once, in one valid chain."""
    sessions = [await insert_session(store, workspace) for _ in range(8)]
    results = await asyncio.gather(*(reserve(store, sessions[i % 8], ETHER) for i in range(24)))
    assert all(decision.allowed for decision, _ in results)
    entries = await store.audit_entries(workspace_id=workspace.id)
    assert sorted(e.subject for e in entries if e.action == "rpc.decision") == sorted(
        sessions[i % 8].key_hash for i in range(24))
    assert [e.seq for e in entries] == sorted({e.seq for e in entries})
    assert (await store.verify_audit()).ok
