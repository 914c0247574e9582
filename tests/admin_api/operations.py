"""The admin API's operation table, read at collection time to parametrize tests over every
endpoint: a new operation is covered by the table-driven tests (authentication, token scopes,
OpenAPI) the moment it is added."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from session_studio.admin_ui import AdminDeps
from session_studio.admin_ui._api import AdminApi
from session_studio.admin_ui._operations import Operation

from .conftest import KEY_HASH_OF_NOBODY

TOKEN_ID_OF_NOBODY = "0" * 32
AGENT_OF_NOBODY = "nobody-agent"
APPROVAL_ID_OF_NOBODY = "0" * 32


def operation_table() -> Sequence[Operation]:
    # `operations()` only lists bound handlers; nothing reads the dependencies until a call.
    return AdminApi(cast(AdminDeps, None)).operations()


OPERATIONS = operation_table()
PROTECTED = [op for op in OPERATIONS if op.scope is not None]
PUBLIC = [op for op in OPERATIONS if op.scope is None]
COOKIE_ONLY = [op for op in OPERATIONS if op.cookie_only]


def path_of(op: Operation, *, key_hash: str = KEY_HASH_OF_NOBODY,
            token_id: str = TOKEN_ID_OF_NOBODY, name: str = AGENT_OF_NOBODY) -> str:
    return (op.path.replace("{key_hash}", key_hash).replace("{token_id}", token_id)
            .replace("{name}", name).replace("{approval_id}", APPROVAL_ID_OF_NOBODY))


def op_id(op: Operation) -> str:
    return op.operation_id
