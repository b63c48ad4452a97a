"""Keeping every file a CSV connector touches inside its folder.

A stream's file is a name inside the connector's ``path``. Two checks hold that: a configured
name that is absolute or goes up with ``..`` is refused when the configuration loads, and
before any file is opened its real location (symbolic links followed) must still be inside the
folder, because a link dropped into a shared folder can point anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath

_SEPARATORS = re.compile(r"[/\\]")

EXPECTED = (
    "expected a file name inside the connector's folder (`path`), such as customers.csv or "
    "invoices_*.csv"
)
MOVE = "move the file into the folder, or point `path` at the folder the file is in"


def file_name_problem(name: str) -> str | None:
    """Why ``name`` (a file name or glob from the configuration) is not a name inside the
    folder, or None when it is. The name itself is not quoted: it may come from an
    environment variable, whose values are never quoted back."""
    if not name:
        return f"{EXPECTED}, got an empty name"
    if "\x00" in name:
        return f"{EXPECTED}, got a name with a NUL character"
    # Both conventions, so a configuration means the same on every system it is used on.
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor:
        return f"{EXPECTED}, got an absolute path; {MOVE}"
    # Any "..", even one that seems to come back in (sub/../x.csv): when sub is a symbolic
    # link, the system resolves sub/.. to the parent of wherever the link points.
    if ".." in _SEPARATORS.split(name):
        return f"{EXPECTED}, got a name with '..', which leads out of the folder; {MOVE}"
    if PurePosixPath(name.replace("\\", "/")).name in ("", "."):
        return f"{EXPECTED}, got the name of a folder"
    return None


class OutsideFolder(Exception):
    """A file that, symbolic links followed, is not inside the connector's folder."""

    def __init__(self, folder: Path, path: Path, message: str) -> None:
        self.folder = folder
        self.path = path
        super().__init__(message)


def confine(folder: Path, path: Path) -> Path:
    """``path`` (a file in ``folder``, which need not exist yet) when, every symbolic link
    followed, it is inside ``folder``; else :class:`OutsideFolder` saying why."""
    try:
        home = folder.resolve()
        real = path.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symbolic link loop (3.11)
        raise OutsideFolder(
            folder,
            path,
            f"{_shown(folder, path)} cannot be followed to a file ({error}), so it is neither "
            "read nor written",
        ) from None
    if real != home and real.is_relative_to(home):
        return path
    link = _first_link(folder, path)
    if link is not None:
        what = f"is a symbolic link to {_target(link)}"
        if link == path:
            what = f"{_shown(folder, path)} {what}"
        else:
            what = f"{_shown(folder, path)} is in {_shown(folder, link)}, which {what}"
    else:
        what = f"{_shown(folder, path)} leads to {real}"
    raise OutsideFolder(
        folder,
        path,
        f"{what}, outside the folder {folder}; syncer reads and writes only files inside the "
        "connector's folder (`path`), so it neither reads nor writes it: put the file itself "
        "in the folder, or point `path` at the folder it is in",
    )


def _shown(folder: Path, path: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


def _first_link(folder: Path, path: Path) -> Path | None:
    """The first symbolic link on the way from ``folder`` down to ``path``."""
    try:
        parts = path.relative_to(folder).parts
    except ValueError:
        return None
    current = folder
    for part in parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


def _target(link: Path) -> str:
    try:
        return str(link.resolve())
    except (OSError, RuntimeError):
        return "a place that cannot be resolved"
