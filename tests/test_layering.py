"""The packages' layering, read from the source: the core (``syncer``) imports neither the
connectors nor the sandboxes, the connectors never import the sandboxes, and the core's modules
do not import each other in a circle.

The core reaches connectors through the ``syncer.connectors`` entry points and commands through
``syncer.commands``; an import would tie it to one connector, and to the sandboxes' code that
has no business in a production install's start-up."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> dict[str, Path]:
    """Every module of a top-level package in the source tree, by dotted name."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _every_import(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import anywhere in the file: module level, inside
    functions, under ``if TYPE_CHECKING``, and ``importlib.import_module("...")`` calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path.name == "__init__.py", node)
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _forbidden(package: str, banned: tuple[str, ...]) -> list[str]:
    found = []
    for module, path in _modules(package).items():
        for line, imported in _every_import(module, path):
            if imported.split(".")[0] in banned:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return found


def test_the_package_list_is_not_empty():
    # A guard for the tests below: walking a folder that moved would find nothing to refuse.
    assert len(_modules("syncer")) > 50
    assert len(_modules("connectors")) > 20
    assert "sandboxes.repzo.server" in _modules("sandboxes")


def test_the_core_imports_no_connector_and_no_sandbox():
    assert _forbidden("syncer", ("connectors", "sandboxes")) == []


def test_the_connectors_import_no_sandbox():
    assert _forbidden("connectors", ("sandboxes",)) == []


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``module`` imports when it is imported: statements at
    module level (in ``if``/``try`` blocks too), not in functions, not under TYPE_CHECKING.
    ``from package import name`` counts as importing ``package.name`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, path.name == "__init__.py", node)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in known else base)

    visit(tree.body)
    return found & known


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the list of its modules (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def dfs(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return [*stack[stack.index(imported) :], imported]
            if imported not in state and (cycle := dfs(imported)) is not None:
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := dfs(module)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("package", ["syncer", "connectors", "sandboxes"])
def test_no_import_cycle(package):
    modules = _modules(package)
    known = set(modules)
    graph = {name: _module_level_imports(name, path, known) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


ENGINE_MODULE_LINES = 350


def test_no_engine_module_is_longer_than_it_can_be_read():
    # One job per module: a module past this is doing two (the runner once held the whole run).
    long = {
        name: lines
        for name, path in _modules("syncer").items()
        if name.startswith("syncer.engine")
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > ENGINE_MODULE_LINES
    }
    assert long == {}
