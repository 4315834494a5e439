"""The shape of the code: no import circle anywhere in habot/ — not even one used only for
types, which a single runtime use would turn into an ImportError — and tests that share their
helpers through tests/kit/ only."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

HABOT = Path(__file__).resolve().parents[1] / "habot"


def modules(root: Path = HABOT) -> dict[str, Path]:
    """Every module of the package by dotted name (migrations aside: each stands alone)."""
    found = {}
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path: Path, known: Iterable[str]) -> set[str]:
    """The package's modules a module imports when it loads, or for its types (imports
    inside functions — the CLI's lazy ones — run later and close no circle at load)."""
    names = set(known)
    out: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    out.add(full if full in names else node.module)
            elif isinstance(node, ast.Import):
                out.update(alias.name for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(getattr(node, "orelse", []))

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {name for name in out if name in names}


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import one another round a circle (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node] - {node}:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = [stack.pop()]
            while group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_the_package() -> None:
    """No module imports, through any chain, one that imports it back."""
    known = modules()
    graph = {name: imported(path, known) for name, path in known.items()}
    assert circles(graph) == []


def test_the_circle_check_finds_a_circle_of_type_only_imports(tmp_path: Path) -> None:
    """The check itself: a circle closed only by a TYPE_CHECKING import is found."""
    package = tmp_path / "habot"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("")
    (package / "core" / "a.py").write_text("from habot.core.b import B\n")
    (package / "core" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from habot.core.a import A\n"
    )
    (package / "core" / "c.py").write_text("def f():\n    from habot.core.a import A\n")
    known = modules(package)
    graph = {name: imported(path, known) for name, path in known.items()}
    assert circles(graph) == [["habot.core.a", "habot.core.b"]]


def test_a_test_module_is_never_another_ones_helper_library() -> None:
    """Tests share fakes, factories and end-to-end helpers through tests/kit/ only: no
    module imports from a test module (whose helpers would then be hidden among tests)."""
    tests = HABOT.parent / "tests"
    borrowed = sorted(
        f"{path.relative_to(tests)} imports {node.module}"
        for path in tests.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("tests.")
        and (node.module or "").split(".")[-1].startswith("test_")
    )
    assert borrowed == []
