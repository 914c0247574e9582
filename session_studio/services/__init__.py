"""The service layer: the one door to sessions, agents, tokens, admins and the audit trail.

The CLI, the admin API and pages, agent self-service over RPC and the rotation schedule all
call these services; none of them holds the store. Each change and its audit row are written
in one transaction, and the services answer with typed, frozen records
(`SessionView`, `SessionArtifact`, ...), never with the store's rows or loose dicts.
"""

from __future__ import annotations

from session_studio.basics import iso  # the callers' one way to write an instant

from ._admins import (
    SETUP_TTL_MS,
    AdminService,
)
from ._agents import (
    AgentDesk,
)
from ._approvals import (
    ApprovalPage,
    ApprovalService,
    ApprovalSigning,
    InvalidApprovalQuery,
    approval_view,
)
from ._audit_trail import (
    AuditTrail,
)
from ._ceiling import (
    Requested,
    approve_above_within,
    beyond_ceiling,
)
from ._durations import (
    DurationError,
    parse_duration,
)
from ._rotation import (
    ACTOR,
    RotationSchedule,
)
from ._session_views import (
    SessionArtifact,
    SessionView,
)
from ._sessions import (
    InvalidSpec,
    SessionService,
    SessionSpec,
)
from ._tokens import (
    MAX_TOKEN_LIFETIME_S,
    TokenService,
)

__all__ = [
    "ACTOR",
    "MAX_TOKEN_LIFETIME_S",
    "SETUP_TTL_MS",
    "AdminService",
    "AgentDesk",
    "ApprovalPage",
    "ApprovalService",
    "ApprovalSigning",
    "AuditTrail",
    "DurationError",
    "InvalidApprovalQuery",
    "InvalidSpec",
    "Requested",
    "RotationSchedule",
    "SessionArtifact",
    "SessionService",
    "SessionSpec",
    "SessionView",
    "TokenService",
    "approval_view",
    "approve_above_within",
    "beyond_ceiling",
    "iso",
    "parse_duration",
]
