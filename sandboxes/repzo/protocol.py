"""What passes between the HTTP layer and the handlers: a parsed request, a reply, an error.

Errors carry the body Repzo's Feathers-based API answers with: ``{name, message, code,
className, errors}``. Integrations read ``message`` and ``code`` (REPZO-INTEGRATIONS.md §1.8), so
those two are always present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandboxes.kit.replies import RawJson, Reply, dump_json

__all__ = ["ApiError", "RawJson", "Reply", "Request", "dump_json", "error_body"]

# Feathers' error classes by status, which is what a Repzo error body names.
_ERROR_NAMES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "bad-request"),
    401: ("NotAuthenticated", "not-authenticated"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "not-found"),
    405: ("MethodNotAllowed", "method-not-allowed"),
    409: ("Conflict", "conflict"),
    429: ("TooManyRequests", "too-many-requests"),
    500: ("GeneralError", "general-error"),
    502: ("BadGateway", "bad-gateway"),
    503: ("Unavailable", "unavailable"),
}


def error_body(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    name, class_name = _ERROR_NAMES.get(status, ("GeneralError", "general-error"))
    return {
        "name": name,
        "message": message,
        "code": status,
        "className": class_name,
        "errors": errors or {},
    }


class ApiError(Exception):
    """Raised anywhere below the HTTP layer; becomes the JSON error reply."""

    def __init__(self, status: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def reply(self) -> Reply:
        return Reply(self.status, error_body(self.status, self.message, self.errors))


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """Decoded path without the query string or a trailing slash."""
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    base_url: str
    """``http://host:port`` as the client addressed us, for the page URLs of list replies."""

    def param(self, name: str) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return None

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is the client's error, as on Repzo."""
        if not self.body.strip():
            raise ApiError(400, "Request body is empty; expected JSON")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Request body is not valid JSON: {exc}") from None
