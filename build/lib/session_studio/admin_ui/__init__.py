"""The admin plane: admin API (`/api/v1`), passkey auth, and the Session Studio web page."""

from ._accounts import MAX_TOKEN_LIFETIME_S, AdminAccounts
from ._api import AdminDeps
from ._app import create_admin_app
from ._passkeys import PasskeyCeremonies

__all__ = [
    "MAX_TOKEN_LIFETIME_S",
    "AdminAccounts",
    "AdminDeps",
    "PasskeyCeremonies",
    "create_admin_app",
]
