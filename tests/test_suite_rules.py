"""Rules the code and the test suite keep: no Python file edits the import path, and every
`pytest.raises` names the message it expects."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from support import ROOT, project_files

# An assignment to, augmented assignment of, or call changing the import path, in code or in the text
# of a script a test runs (so a regular expression over the source, not the syntax tree).
PATH_EDIT = re.compile(r"\bsys\s*\.\s*path\s*(?:\[[^\]]*\]\s*)?(?:[+]?=(?!=))"
                       r"|\bsys\s*\.\s*path\s*\.\s*(?:insert|append|extend|remove|pop|clear)\s*\(")


def _python_files() -> list[Path]:
    return [ROOT / f for f in project_files() if f.endswith(".py")]


def path_edits(text: str) -> list[int]:
    """Line numbers of `text` that change sys.path."""
    return [text.count("\n", 0, m.start()) + 1 for m in PATH_EDIT.finditer(text)]


def raises_without_match(text: str) -> list[int]:
    """Line numbers of `pytest.raises(...)` / `raises(...)` calls in `text` that give no `match=`."""
    lines = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        named = (isinstance(f, ast.Attribute) and f.attr == "raises" and isinstance(f.value, ast.Name)
                 and f.value.id == "pytest") or (isinstance(f, ast.Name) and f.id == "raises")
        if named and not any(k.arg == "match" for k in node.keywords):
            lines.append(node.lineno)
    return lines


def test_the_checks_find_what_they_look_for():
    path = "sys" + ".path"  # spelled apart, or this file would hold the edits it checks for
    edits = "\n".join(["import sys", f"{path}.insert(0, 'x')", f"{path}[:0] = ['x']", f"{path} += ['x']",
                       f"{path} = ['x']", f"{path}.append('x')", f"ok = 'x' in {path}", f"{path} == []"])
    assert path_edits(edits) == [2, 3, 4, 5, 6]
    raises = "\n".join(["import pytest", "from pytest import raises", "pytest.raises(ValueError)",
                        "pytest.raises(ValueError, match='x')", "raises(\n    KeyError)", "other.raises(E)"])
    assert raises_without_match(raises) == [3, 5]


def test_no_python_file_edits_sys_path():
    found = [f"{p.relative_to(ROOT)}:{n}" for p in _python_files() for n in path_edits(p.read_text())]
    assert _python_files() and not found, f"sys.path edited at {found}; install the package or set PYTHONPATH"


def test_every_pytest_raises_gives_match():
    tests = [p for p in _python_files() if p.is_relative_to(ROOT / "tests")]
    found = [f"{p.relative_to(ROOT)}:{n}" for p in tests for n in raises_without_match(p.read_text())]
    assert tests and not found, f"pytest.raises without match= at {found}"
