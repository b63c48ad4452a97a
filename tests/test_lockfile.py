"""The deployment lock file pins every runtime dependency within pyproject's ranges, and every
runtime dependency has an upper bound on its next major version."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REFRESH = "refresh it with the command in the README's Dependencies section"


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    return [Requirement(text) for text in names]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = version.strip()
    return found


def test_every_runtime_dependency_has_an_upper_bound():
    unbounded = [
        str(req)
        for req in runtime_requirements()
        if not any(spec.operator in ("<", "<=", "~=", "==") for spec in req.specifier)
    ]
    assert not unbounded, f"no upper bound: {unbounded}"


def test_the_lock_file_pins_every_runtime_dependency_within_its_range():
    pinned = pins()
    problems = []
    for req in runtime_requirements():
        version = pinned.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not pinned")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside {req.specifier}")
    assert not problems, f"requirements.lock is stale ({'; '.join(problems)}): {REFRESH}"
