"""The Makefile's recipes call scripts and modules that exist."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
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
    assert "pytest" in modules and "pipeline.tools.check_repro" in modules
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    assert not missing, f"Makefile runs missing modules: {missing}"


def test_readme_commands_are_make_targets():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    readme = (ROOT / "README.md").read_text()
    for command in re.findall(r"^make ([\w-]+)", readme, re.M):
        assert command in targets
    assert {"repro", "test"} <= set(re.findall(r"^make ([\w-]+)", readme, re.M))


def test_install_recipe_installs_the_project_editable():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*--no-deps .*-e \.$", text, re.M)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["pipeline*"]
    build = pyproject["build-system"]["requires"][0]
    pinned = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("setuptools==")]
    assert build.startswith("setuptools") and pinned, "the build backend must be pinned in constraints.txt"


def test_stages_import_the_installed_package_from_anywhere(tmp_path):
    """No stage edits sys.path: `pipeline` resolves to this clone from any working directory."""
    for script in sorted((ROOT / "stages").glob("*.py")):
        assert "sys.path" not in script.read_text(), script.name
    out = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == ROOT / "pipeline" / "__init__.py"
    help_text = subprocess.run([sys.executable, str(ROOT / "stages" / "plot.py"), "--help"], cwd=tmp_path,
                               capture_output=True, text=True, check=True).stdout
    assert "--params" in help_text
