"""What a user installs: the wheel holds the packages and the files they read at run time
(mappings, migrations, the Repzo registry, the demo's configuration) and nothing else, and the
demo runs from it, in an empty folder, away from this source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path, PurePosixPath

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("syncer", "connectors", "sandboxes", "migrations", "mappings")
"""The top-level packages a wheel holds; anything else at its top is a mistake."""
DATA_SUFFIXES = {".py", ".yaml", ".json", ".mako", ".md", ".typed"}
"""Kinds of file the packages may ship; a .db, a .pyc or a stray .ts is not one of them."""
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "*.egg-info",
    "build",
    "dist",
    ".venv",
    ".ci-venv",
    "*.db",
    "*.db-*",
    "syncer-demo",
)


def test_the_demo_ships_the_example_configuration():
    """The demo reads its configuration from its package, so that it works from a wheel; users
    read the one at the top of the repository. They are the same file."""
    shipped = ROOT / "sandboxes" / "config.example.yaml"
    assert shipped.read_bytes() == (ROOT / "config.example.yaml").read_bytes(), (
        "config.example.yaml changed: copy it to sandboxes/config.example.yaml"
    )


def _build_command(source: Path, out: Path) -> list[str]:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out)]
    try:
        offline = Version(version("setuptools")) >= Version("77")
    except Exception:  # noqa: BLE001 - no setuptools here: let pip fetch the build backend
        offline = False
    return [*command, *(["--no-build-isolation"] if offline else []), str(source)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of this source tree, beside a stray demo folder and store."""
    source = tmp_path_factory.mktemp("source") / "repzo-sync"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORE)
    stray = source / "syncer-demo"
    stray.mkdir()
    (stray / "syncer.yaml").write_text("state: {}\n", encoding="utf-8")
    (stray / "syncer.db").write_bytes(b"")
    (source / "syncer.db").write_bytes(b"")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(_build_command(source, out), check=True, capture_output=True, text=True)
    (built,) = out.glob("repzo_sync-*.whl")
    return built


def _source_files(package: str, suffix: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / package).rglob(f"*{suffix}")
        if "__pycache__" not in path.parts
    }


@pytest.mark.slow
def test_the_wheel_holds_the_packages_and_what_they_read(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = f"repzo_sync-{version('repzo-sync')}.dist-info"
    tops = {PurePosixPath(name).parts[0] for name in names}
    assert tops == {*PACKAGES, dist_info}

    code = set().union(*(_source_files(package, ".py") for package in PACKAGES))
    assert code - names == set()
    data = {
        *_source_files("mappings", ".yaml"),
        *_source_files("connectors/repzo/openapi", ".yaml"),
        "migrations/env.py",
        "migrations/script.py.mako",
        "connectors/repzo/registry.json",
        "sandboxes/config.example.yaml",
        "syncer/py.typed",
        "connectors/py.typed",
        "sandboxes/py.typed",
    }
    assert data - names == set()
    assert any(name.startswith("migrations/versions/0001_") for name in names)

    packaged = {name for name in names if not name.startswith(dist_info)}
    odd = {name for name in packaged if PurePosixPath(name).suffix not in DATA_SUFFIXES}
    assert odd == set()
    for unwanted in ("__pycache__", "syncer-demo", "tests/", "bench/", "examples/", ".db"):
        assert not [name for name in names if unwanted in name], unwanted

    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata
    assert f"{dist_info}/licenses/LICENSE" in names
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "[syncer.commands]" in entry_points and "[syncer.connectors]" in entry_points


@pytest.mark.slow
def test_the_demo_runs_from_the_installed_wheel_in_an_empty_folder(wheel, tmp_path):
    """Installed (not editable) into a folder of its own, with this environment's dependencies
    behind it, and run without ``site`` so that no editable install of this tree is seen."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target, wheel],
        check=True,
        capture_output=True,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]]),
    }

    def syncer(*args: str) -> subprocess.CompletedProcess[str]:
        run = (
            f"import sys; sys.argv = ['syncer', *{list(args)!r}]\n"
            "from syncer.cli import main\n"
            "main()"
        )
        return subprocess.run(
            [sys.executable, "-S", "-P", "-c", run],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    where = subprocess.run(
        [
            sys.executable,
            "-S",
            "-P",
            "-c",
            "import syncer, sandboxes, connectors.repzo.registry as r, mappings;"
            "from syncer.state.migrate import migrations_dir;"
            "print(syncer.__file__, sandboxes.__file__, r.__file__, mappings.__file__,"
            " migrations_dir())",
        ],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert all(Path(path).is_relative_to(target) for path in where.stdout.split()), where.stdout

    assert syncer("--version").stdout == f"syncer {version('repzo-sync')}\n"
    demo = syncer("demo", "--customers", "30", "--items", "10")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Once more with nothing new: 0 writes" in demo.stdout
    assert str(ROOT) not in demo.stdout + demo.stderr
    assert (empty / "syncer-demo" / "syncer.yaml").is_file()
    status = syncer("status", "-c", str(empty / "syncer-demo" / "syncer.yaml"))
    assert status.returncode == 0, status.stderr
