"""dvc.yaml lists exactly the code and params each stage depends on, and declares every output so
that DVC keeps a run-cache entry for every stage."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = ("download", "split", "train", "search", "evaluate", "plot")

try:  # the search package names its own settings that do not change results (workers, executor...)
    from pipeline.search import RUNTIME_KEYS as SEARCH_RUNTIME_KEYS
except ImportError:
    SEARCH_RUNTIME_KEYS = ("search.workers",)
# params.yaml keys no stage tracks: they change how a stage runs, never what it writes.
RUNTIME_KEYS = (*SEARCH_RUNTIME_KEYS, "download.timeout", "download.file_deadline")


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
    tracked = DVC["stages"][stage]["params"]
    assert tracked and all(isinstance(p, str) and (p == stage or p.startswith(f"{stage}.")) for p in tracked)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert stage in params


def _leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in tree.items():
        path = f"{prefix}{k}"
        keys += _leaf_keys(v, f"{path}.") if isinstance(v, dict) and v else [path]
    return keys


def _covered(key: str, entries) -> bool:
    return any(key == e or key.startswith(f"{e}.") for e in entries)


def test_every_untracked_param_is_a_runtime_setting():
    """A params.yaml key no stage tracks must be a runtime setting, and no runtime setting is tracked,
    so that changing a worker count or a timeout never reruns (or fails to rerun) a stage."""
    tracked = [p for stage in STAGES for p in DVC["stages"][stage]["params"]]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    untracked = [k for k in _leaf_keys(params) if not _covered(k, tracked)]
    assert [k for k in untracked if not _covered(k, RUNTIME_KEYS)] == []
    assert [k for k in RUNTIME_KEYS if _covered(k, tracked)] == []
    assert "search.workers" in untracked


def test_untracked_check_catches_a_missing_key():
    params = {"train": {"lr": 1, "reg": 0}, "search": {"workers": 0, "grid": {"lr": [1]}}}
    untracked = [k for k in _leaf_keys(params) if not _covered(k, ["train.lr", "search.grid"])]
    assert untracked == ["train.reg", "search.workers"]


def _out_path(entry) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _out_props(entry) -> dict:
    return {} if isinstance(entry, str) else (next(iter(entry.values())) or {})


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_can_be_restored_from_the_run_cache(stage):
    """DVC 3.67 (dvc/stage/__init__.py, Stage.run) saves no run-cache entry for a stage having an
    output with `cache: false` that is not one of its metrics or plots."""
    outs = DVC["stages"][stage].get("outs", [])
    assert [_out_path(o) for o in outs if _out_props(o).get("cache") is False] == []
    declared = outs + DVC["stages"][stage].get("metrics", []) + DVC["stages"][stage].get("plots", [])
    assert declared and not any(_out_props(o).get("persist") for o in declared)


def test_no_top_level_metrics_and_no_wall_times():
    """Wall times go to logs/ (ignored by git and DVC); metrics are only what stages write."""
    assert "metrics" not in DVC
    declared = [_out_path(o) for stage in STAGES for kind in ("outs", "metrics", "plots")
                for o in DVC["stages"][stage].get(kind, [])]
    assert [p for p in declared if "timing" in p or p.startswith("logs/")] == []
    assert "/logs/" in (ROOT / ".gitignore").read_text().split()
    assert "/logs/" in (ROOT / ".dvcignore").read_text().split()
    assert "/dvc_plots/" in (ROOT / ".gitignore").read_text().split()


def test_models_are_artifacts():
    artifacts = DVC["artifacts"]
    assert {a["path"] for a in artifacts.values()} == {"models/model.npz", "models/best.npz"}
    for name, a in artifacts.items():
        assert a["type"] == "model" and a["desc"] and a["labels"], name
    outs = {_out_path(o) for stage in STAGES for o in DVC["stages"][stage].get("outs", [])}
    assert {a["path"] for a in artifacts.values()} <= outs


def test_train_params_do_not_reach_download_split_or_search():
    for stage in ("download", "split", "search"):
        deps = DVC["stages"][stage]["deps"]
        assert "models/model.npz" not in deps and "train" not in DVC["stages"][stage]["params"]


def test_dvc_config_turns_off_analytics_and_update_checks():
    text = (ROOT / ".dvc" / "config").read_text()
    assert "analytics = false" in text and "check_update = false" in text
