"""The Makefile's recipes call scripts and modules that exist."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = [line.strip() for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]


def test_python_scripts_in_recipes_exist():
    scripts = [m for line in RECIPES for m in re.findall(r"python\s+([\w./-]+\.py)", line)]
    assert scripts, "expected recipes that run python scripts"
    missing = [s for s in scripts if not (ROOT / s).is_file()]
    assert not missing, f"Makefile runs missing scripts: {missing}"


def test_python_modules_in_recipes_exist():
    modules = [m for line in RECIPES for m in re.findall(r"python\s+-m\s+([\w.]+)", line)]
    assert "pytest" in modules and "pipeline.check_repro" in modules
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    assert not missing, f"Makefile runs missing modules: {missing}"


def test_readme_commands_are_make_targets():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    readme = (ROOT / "README.md").read_text()
    for command in re.findall(r"^make ([\w-]+)", readme, re.M):
        assert command in targets
    assert {"repro", "test"} <= set(re.findall(r"^make ([\w-]+)", readme, re.M))
