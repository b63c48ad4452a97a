"""What the two generators (``sdk_gen``, ``registry_gen``) share: digests of their inputs and
of their output, the summary of how a committed file differs from a fresh build, and the
write-or-check step of their command lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any


def sha256_of(path: Path) -> str:
    # Newlines are normalised so a checkout with CRLF endings does not look stale.
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def content_digest(payload: Mapping[str, object]) -> str:
    """sha256 of a generated document without its own ``digest``: a hand edit shows up."""
    body = {key: value for key, value in payload.items() if key != "digest"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def diff_summary(committed: str, fresh: str, *, name: str, sections: Sequence[str]) -> list[str]:
    """What differs between the committed JSON and a fresh build: entries added (+), removed
    (-) or changed (~, with the changed fields) per section, then any other top-level key."""
    try:
        old = json.loads(committed)
    except json.JSONDecodeError as exc:
        return [f"committed {name} is not valid JSON: {exc}"]
    if not isinstance(old, dict):
        return [f"committed {name} is not a JSON object"]
    new = json.loads(fresh)
    lines: list[str] = []
    for section in sections:
        before = _object(old.get(section))
        after = _object(new.get(section))
        lines += [f"+ {section}: {key}" for key in sorted(set(after) - set(before))]
        lines += [f"- {section}: {key}" for key in sorted(set(before) - set(after))]
        for key in sorted(set(before) & set(after)):
            if before[key] != after[key]:
                parts = _changed_fields(before[key], after[key])
                lines.append(f"~ {section}: {key}" + (f" ({', '.join(parts)})" if parts else ""))
    for key in sorted((set(old) | set(new)) - {*sections, "digest"}):
        if old.get(key) != new.get(key):
            lines.append(f"~ {key}")
    return lines or ["only the formatting differs"]


def write_or_check(
    output: Path,
    text: str,
    *,
    check: bool,
    command: str,
    diff: Callable[[str], list[str]],
    out: IO[str],
) -> int:
    """Write ``text`` to ``output``; with ``check``, only compare: 0 when the committed file is
    up to date, 1 (with what differs) when it is stale."""
    if check:
        committed = output.read_text(encoding="utf-8") if output.exists() else ""
        if committed == text:
            out.write(f"{output.name} is up to date\n")
            return 0
        out.write(f"{output.name} is stale; run {command}\n")
        out.write("\n".join(diff(committed)) + "\n")
        return 1
    output.write_text(text, encoding="utf-8")
    out.write(f"wrote {output.relative_to(output.parent.parent.parent)}\n")
    return 0


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _changed_fields(before: object, after: object) -> list[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
