"""The documentation a user's clone has: every link in README and docs/ opens something
that exists there (a file, and the section it names), and none reaches outside the clone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "RELIABILITY.md",
         *sorted((ROOT / "docs").glob("*.md"))]  # fmt: skip
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The section anchors a Markdown page has (as GitHub makes them from headings)."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            words = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", words).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_opens_something_in_the_clone(page: Path) -> None:
    """Each relative link names a file that exists (and a section that exists in it);
    nothing points into ../shared/, which a user's clone does not have."""
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if (
            "shared" in Path(path).parts
            or not file.exists()
            or not file.is_relative_to(ROOT)
            or (anchor and file.suffix == ".md" and anchor not in anchors(file))
        ):
            broken.append(target)
    assert broken == []


def test_the_readme_is_a_front_door() -> None:
    """README says what habot is, the two commands, and where to go next — short enough to
    read (the rest lives in docs/)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert "habot demo" in text
    assert "scripts/check" in text
    assert "../shared" not in text


def test_every_test_says_what_it_proves() -> None:
    """Each test has a docstring: the behaviour it holds habot to, in words (the suite
    reads as the specification)."""
    silent = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_test = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_test and node.name.startswith("test_") and not ast.get_docstring(node):
                silent.append(f"{path.relative_to(ROOT)}::{node.name}")
    assert silent == []
