"""Admin-plane errors: each maps to one HTTP status and a machine-readable code.

    ApiError(status, code, message, field)
    ├── Unauthenticated  401  no or unknown cookie/token
    ├── Forbidden        403  authenticated but lacking a scope, CSRF token or step-up
    └── NotFoundError    404  no such resource in the caller's workspace
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class Unauthenticated(ApiError):
    def __init__(self, message: str = "log in with a passkey or send an admin API token") -> None:
        super().__init__(401, "unauthenticated", message)


class Forbidden(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(403, code, message)


class NotFoundError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(404, "not_found", message)


class ValidationFailed(ApiError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, "validation_error", message, field=field)
