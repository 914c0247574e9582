"""A sealed key opens only for the (workspace, session) it was sealed for, and only under the
master key that sealed it: a blob copied to another row cannot sign there."""

from __future__ import annotations

import os

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from session_studio.keystore import (
    KeyContext,
    KeyUnsealError,
    LocalKeystore,
    MasterKey,
)

ids = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)


def test_blob_for_another_session_is_refused(keystore: LocalKeystore) -> None:
    owner = KeyContext(workspace_id="ws-1", session_id="sess-a")
    thief = KeyContext(workspace_id="ws-1", session_id="sess-b")
    sealed = keystore.generate(owner).sealed

    with pytest.raises(KeyUnsealError):
        keystore.sign_personal_message(sealed, thief, b"x")


def test_blob_for_another_workspace_is_refused(keystore: LocalKeystore) -> None:
    owner = KeyContext(workspace_id="ws-1", session_id="sess-shared-id")
    thief = KeyContext(workspace_id="ws-2", session_id="sess-shared-id")
    sealed = keystore.generate(owner).sealed

    with pytest.raises(KeyUnsealError):
        keystore.sign_personal_message(sealed, thief, b"x")


def test_cached_key_is_not_reachable_from_another_session(keystore: LocalKeystore) -> None:
    owner = KeyContext(workspace_id="ws-cache", session_id="sess-owner")
    thief = KeyContext(workspace_id="ws-cache", session_id="sess-thief")
    sealed = keystore.generate(owner).sealed
    keystore.sign_personal_message(sealed, owner, b"warm the cache")

    with pytest.raises(KeyUnsealError):
        keystore.sign_personal_message(sealed, thief, b"x")


def test_ids_that_concatenate_alike_are_still_distinct(keystore: LocalKeystore) -> None:
    owner = KeyContext(workspace_id="a", session_id="bc")
    lookalike = KeyContext(workspace_id="ab", session_id="c")
    sealed = keystore.generate(owner).sealed

    with pytest.raises(KeyUnsealError):
        keystore.sign_personal_message(sealed, lookalike, b"x")


@settings(max_examples=60, deadline=None)
@given(owner_ws=ids, owner_sess=ids, other_ws=ids, other_sess=ids)
def test_any_other_context_is_refused(
    uncached_keystore: LocalKeystore,
    owner_ws: str,
    owner_sess: str,
    other_ws: str,
    other_sess: str,
) -> None:
    assume((owner_ws, owner_sess) != (other_ws, other_sess))
    owner = KeyContext(workspace_id=owner_ws, session_id=owner_sess)
    other = KeyContext(workspace_id=other_ws, session_id=other_sess)
    sealed = uncached_keystore.generate(owner).sealed

    with pytest.raises(KeyUnsealError):
        uncached_keystore.sign_personal_message(sealed, other, b"x")


def test_blob_under_another_master_key_is_refused(keystore: LocalKeystore) -> None:
    ctx = KeyContext(workspace_id="ws-m", session_id="sess-m")
    sealed = keystore.generate(ctx).sealed
    other = LocalKeystore(MasterKey.from_bytes(os.urandom(32)))

    with pytest.raises(KeyUnsealError, match="wrong master key"):
        other.sign_personal_message(sealed, ctx, b"x")


def test_blob_opens_under_the_same_master_key_in_another_keystore(
    keystore: LocalKeystore, master_key: MasterKey
) -> None:
    # What a restart (or a second process) does: a new keystore from the same master key.
    ctx = KeyContext(workspace_id="ws-restart", session_id="sess-restart")
    new_key = keystore.generate(ctx)
    restarted = LocalKeystore(master_key)

    signature = restarted.sign_personal_message(new_key.sealed, ctx, b"x")

    assert len(signature) == 65


@pytest.mark.parametrize(("workspace_id", "session_id"), [("", "s"), ("w", ""), ("w", "\ud800")])
def test_context_with_unusable_id_is_rejected(workspace_id: str, session_id: str) -> None:
    with pytest.raises(ValueError, match="KeyContext"):
        KeyContext(workspace_id=workspace_id, session_id=session_id)
