"""The one exception the sandbox's logic raises: an HTTP answer other than success."""

from __future__ import annotations


class ApiError(Exception):
    """An error answer: status, plain-text message (the API documents no error format)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
