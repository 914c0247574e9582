"""The audit chain's verifier: an intact chain verifies, and any edit, deletion or reordering is
reported at the first entry that no longer holds."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from session_studio.store import AuditEntry, AuditEvent, verify_chain
from session_studio.store._audit import append, entry_from_row

MIGRATIONS = Path(__file__).parents[2] / "store" / "session_studio" / "store" / "migrations"
MIGRATION = (MIGRATIONS / "0007_audit.sql").read_text()

events = st.lists(
    st.builds(AuditEvent,
              workspace_id=st.one_of(st.none(), st.text(max_size=8)),
              actor=st.text(min_size=1, max_size=12), action=st.text(min_size=1, max_size=12),
              subject=st.text(max_size=12),
              detail=st.dictionaries(st.text(max_size=5),
                                     st.one_of(st.integers(), st.text(max_size=5), st.none()),
                                     max_size=3)),
    min_size=1, max_size=12)


def _chain(evs: list[AuditEvent]) -> list[AuditEntry]:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.executescript(MIGRATION)
    for i, event in enumerate(evs):
        append(db, event, now_ms=1_000 + i)
    return [entry_from_row(r) for r in db.execute("SELECT * FROM audit_log ORDER BY seq")]


@given(events)
def test_an_untouched_chain_verifies_with_every_entry(evs: list[AuditEvent]) -> None:
    verdict = verify_chain(_chain(evs))
    assert verdict.ok and verdict.entries == len(evs)


@given(events, st.data())
def test_editing_any_field_of_any_entry_is_reported_at_that_entry(
        evs: list[AuditEvent], data: st.DataObject) -> None:
    chain = _chain(evs)
    i = data.draw(st.integers(0, len(chain) - 1))
    name = data.draw(st.sampled_from(["at_ms", "workspace_id", "actor", "action", "subject",
                                      "detail"]))
    original = getattr(chain[i], name)
    replacement = (original + 1 if isinstance(original, int)
                   else (original or "") + "x")
    chain[i] = dataclasses.replace(chain[i], **{name: replacement})
    verdict = verify_chain(chain)
    assert not verdict.ok and verdict.first_broken_seq == i + 1


@given(events.filter(lambda e: len(e) >= 2), st.data())
def test_deleting_any_entry_is_reported_where_it_was(evs: list[AuditEvent],
                                                     data: st.DataObject) -> None:
    chain = _chain(evs)
    i = data.draw(st.integers(0, len(chain) - 2))  # the newest entry: see the next test
    del chain[i]
    verdict = verify_chain(chain)
    assert not verdict.ok and verdict.first_broken_seq == i + 1


@given(events)
def test_the_head_hash_changes_when_the_newest_entry_is_cut(evs: list[AuditEvent]) -> None:
    """Truncation is invisible inside the table; the printed head hash is what exposes it."""
    chain = _chain(evs)
    assert verify_chain(chain[:-1]).head_hash != verify_chain(chain).head_hash


@given(events.filter(lambda e: len(e) >= 2), st.data())
def test_recomputing_one_entry_hash_after_an_edit_still_breaks_the_next_link(
        evs: list[AuditEvent], data: st.DataObject) -> None:
    from session_studio.store._audit import entry_hash

    chain = _chain(evs)
    i = data.draw(st.integers(0, len(chain) - 2))
    e = dataclasses.replace(chain[i], actor=chain[i].actor + "x")
    chain[i] = dataclasses.replace(e, entry_hash=entry_hash(
        e.prev_hash, e.seq, e.at_ms, e.workspace_id, e.actor, e.action, e.subject, e.detail))
    verdict = verify_chain(chain)
    assert not verdict.ok and verdict.first_broken_seq == i + 2
