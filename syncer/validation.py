"""Turning pydantic validation errors into located, readable configuration issues.

Shared by the configuration loader and the mapping loader: each error becomes "what was
expected" at a key path, placed on its line; values that may be secret are never quoted.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from syncer.yamlsource import KeyPath, YamlDocument

_WRAPPER = re.compile(r"^(function-(after|before|wrap|plain)|tagged-union|union)\[")
_SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|credential|url)")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_LITERAL = re.compile(r"'([^']*)'")
"""The allowed values inside pydantic's "expected 'a', 'b' or 'c'"."""
_LISTED = 30
"""More known names than this are not all listed in a message: only the close ones help."""


def unknown_name(kind: str, value: Any, known: Iterable[str], *, of: str | None = None) -> str:
    """``unknown transform 'money_x100' (did you mean 'money_x1000'?); expected one of: ...``.
    ``of`` says whose name it is ("connector repzo")."""
    names = sorted(known)
    text = f"unknown {kind} {value!r}" + (f" of {of}" if of else "") + suggestion(value, names)
    if len(names) == 1:
        text += f"; expected: {names[0]}"
    elif len(names) > _LISTED:
        text += f"; expected one of the {len(names)} known {kind}s"
    elif names:
        text += f"; expected one of: {', '.join(names)}"
    else:
        text += f"; no {kind}s are defined"
    return text


def suggestion(value: Any, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(str(value), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def add_pydantic_issues(
    doc: YamlDocument, exc: ValidationError, model: type[BaseModel], prefix: KeyPath
) -> None:
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not _is_wrapper(part))
        path = (*prefix, *loc)
        if doc.is_tainted(path):
            continue  # already reported: the environment variable it needs is missing
        quotable = not _looks_secret(path) and path not in doc.from_environment
        doc.issues.append(doc.issue(path, _explain(error, model, loc, quotable=quotable)))


def _explain(error: ErrorDetails, model: type[BaseModel], loc: KeyPath, *, quotable: bool) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        text = "unknown key"
        if allowed:
            text += f"{suggestion(loc[-1], allowed)}; expected one of: {', '.join(allowed)}"
        return text
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"expected a mapping (key: value), got {describe(value)}"
    if kind == "list_type":
        return f"expected a list, got {describe(value)}"
    if kind == "string_pattern_mismatch":
        return (
            "expected a name of letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    else:
        message = message.replace("Input should be", "expected").replace("Input", "value")
        if not message[1:2].isupper():  # "URL scheme should be ..." stays as it is
            message = message[:1].lower() + message[1:]
        if quotable and not isinstance(value, dict | list):
            message += f", got {describe(value)}"
        if quotable and kind == "literal_error" and isinstance(value, str):
            message += suggestion(
                value, _LITERAL.findall(str(error.get("ctx", {}).get("expected")))
            )
    return message


def _looks_secret(loc: KeyPath) -> bool:
    return any(isinstance(part, str) and _SECRET_KEY.search(part) for part in loc)


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return _URL_PASSWORD.sub(r"\1***@", text)


def _allowed_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (for 'did you mean')."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (list, tuple, dict):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] to reach the type a value is validated as."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation


def _is_wrapper(part: Any) -> bool:
    """pydantic puts validator and union names into an error's location; users see keys."""
    return not isinstance(part, str | int) or (isinstance(part, str) and bool(_WRAPPER.match(part)))
