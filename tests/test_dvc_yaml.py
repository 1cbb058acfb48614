"""dvc.yaml lists exactly the code and params each stage depends on."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = ("download", "split", "train", "search", "evaluate", "plot")


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _pipeline_imports(path: Path, package: str) -> set[str]:
    """Names of pipeline modules (and imported attributes) that the file imports, absolute."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(parts + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return {n for n in names if n.split(".")[0] == "pipeline"}


def import_closure(script: Path) -> set[str]:
    """Every pipeline/ source file that `script` imports, directly or not (parent packages included)."""
    files: set[Path] = set()
    todo = [(script, "")]
    while todo:
        path, package = todo.pop()
        for name in _pipeline_imports(path, package):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                f = _module_file(".".join(parts[:i]))
                if f is not None and f not in files:
                    files.add(f)
                    pkg = ".".join(parts[:i]) if f.name == "__init__.py" else ".".join(parts[: i - 1])
                    todo.append((f, pkg))
    return {str(f.relative_to(ROOT)) for f in files}


def test_stages_are_the_design_cards():
    assert tuple(DVC["stages"]) == STAGES


@pytest.mark.parametrize("stage", STAGES)
def test_code_deps_are_exactly_the_import_closure(stage):
    script = f"stages/{stage}.py"
    code_deps = {d for d in DVC["stages"][stage]["deps"] if d.endswith(".py")}
    assert DVC["stages"][stage]["cmd"] == f"python {script}"
    assert code_deps == {script} | import_closure(ROOT / script)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_reads_only_its_own_params_section(stage):
    # search lists only its result-affecting keys (pipeline.search.RUNTIME_KEYS are left out).
    assert all(p == stage or p.startswith(f"{stage}.") for p in DVC["stages"][stage]["params"])
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert stage in params


def test_train_params_do_not_reach_download_split_or_search():
    for stage in ("download", "split", "search"):
        deps = DVC["stages"][stage]["deps"]
        assert "models/model.npz" not in deps and "train" not in DVC["stages"][stage]["params"]


def test_dvc_config_turns_off_analytics_and_update_checks():
    text = (ROOT / ".dvc" / "config").read_text()
    assert "analytics = false" in text and "check_update = false" in text
