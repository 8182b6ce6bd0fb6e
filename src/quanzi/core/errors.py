"""Domain errors with a stable machine code and a human message.

Every layer maps them the same way: the API to JSON with an HTTP status, the
WebSocket to an ``error`` frame with the same code, the web UI to a message.
"""

from __future__ import annotations


class QuanziError(Exception):
    status: int = 400
    code: str = "invalid"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidInput(QuanziError):
    status = 400
    code = "invalid"


class NotFound(QuanziError):
    """Also used for objects the actor may not see, so ids can't be probed."""

    status = 404
    code = "not_found"


class Forbidden(QuanziError):
    status = 403
    code = "forbidden"


class Conflict(QuanziError):
    status = 409
    code = "conflict"


class RateLimited(QuanziError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        data: dict = super().as_dict()
        data["retry_after"] = round(self.retry_after, 1)
        return data


class NotAuthenticated(QuanziError):
    status = 401
    code = "not_authenticated"
