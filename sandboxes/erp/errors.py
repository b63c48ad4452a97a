"""The ERP stub's failures, all answered in one shape:
``{"error": {"code": <word>, "message": <sentence>, "fields": {<field>: <problem>}}}``.

``fields`` is present on validation failures only, so a client can tell which value of a record
to fix (and dead-letter the record with that field) without parsing the sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandboxes.kit.replies import Reply


def error_body(code: str, message: str, fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = dict(fields)
    return {"error": error}


class ErpError(Exception):
    """Raised anywhere below the HTTP layer; becomes the JSON error reply."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields) if fields is not None else None
        self.headers = dict(headers or {})

    def reply(self) -> Reply:
        return Reply(self.status, error_body(self.code, self.message, self.fields), self.headers)


def bad_request(message: str, code: str = "bad_request") -> ErpError:
    return ErpError(400, code, message)


def not_found(message: str) -> ErpError:
    return ErpError(404, "not_found", message)


def conflict(message: str) -> ErpError:
    return ErpError(409, "conflict", message)


def validation_failed(singular: str, fields: Mapping[str, str]) -> ErpError:
    count = len(fields)
    return ErpError(
        422,
        "validation_failed",
        f"The {singular} was not saved: {count} field{'s' if count != 1 else ''} "
        f"{'are' if count != 1 else 'is'} invalid.",
        fields=fields,
    )
