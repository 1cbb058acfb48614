"""pipeline.tools.deps and dvc.yaml: each stage's code deps are its import closure, its params only its own
section, and every output is declared so that DVC keeps a run-cache entry for every stage."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.common.closure import ImportClosureError, import_closure
from pipeline.tools.deps import main, render

ROOT = Path(__file__).resolve().parents[2]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = ("download", "split", "train", "search", "export", "evaluate", "plot")

from pipeline.data.download import RUNTIME_KEYS as DOWNLOAD_RUNTIME_KEYS
from pipeline.search.settings import RUNTIME_KEYS as SEARCH_RUNTIME_KEYS
# params.yaml keys no stage tracks: they change how a stage runs, never what it writes.
RUNTIME_KEYS = (*SEARCH_RUNTIME_KEYS, *DOWNLOAD_RUNTIME_KEYS)


def test_stages_are_the_design_cards():
    assert tuple(DVC["stages"]) == STAGES


def test_dvc_yaml_code_deps_are_what_the_deps_command_writes():
    text = (ROOT / "dvc.yaml").read_text()
    assert render(text, ROOT) == text, "run: python -m pipeline.tools.deps"


@pytest.mark.parametrize("stage", STAGES)
def test_code_deps_are_the_script_and_its_import_closure(stage):
    script = f"stages/{stage}.py"
    code_deps = [d for d in DVC["stages"][stage]["deps"] if d.endswith(".py")]
    closure = [p.relative_to(ROOT).as_posix() for p in import_closure([ROOT / script], ROOT)]
    assert code_deps[0] == script and sorted(code_deps) == sorted(closure)
    assert "pipeline/nn/model.py" in closure or stage in ("download", "split")


@pytest.mark.parametrize("stage", STAGES)
def test_stages_run_as_modules_of_the_tree_dvc_runs_them_in(stage):
    # As `python stages/x.py`, a --temp or --queue copy would import the editable install's pipeline/.
    assert DVC["stages"][stage]["cmd"] == f"python -m stages.{stage}"
    assert "stages/__init__.py" in DVC["stages"][stage]["deps"]


def _tree(tmp_path: Path, modules: dict[str, str]) -> Path:
    for rel, text in {"stages/run.py": "from pipeline.b import f\n", "pipeline/__init__.py": "",
                      **modules}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "dvc.yaml").write_text("stages:\n  run:\n    cmd: python stages/run.py\n    deps:\n"
                                       "      - stages/run.py\n      - data/in\n    outs:\n      - out\n")
    return tmp_path


def test_render_lists_every_module_reached_including_function_and_type_only_imports(tmp_path):
    root = _tree(tmp_path, {
        "pipeline/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pipeline.c import C\n"
                         "def f():\n    from pipeline.sub import d\n",
        "pipeline/c.py": "import numpy\n", "pipeline/sub/__init__.py": "", "pipeline/sub/d.py": "",
        "pipeline/unused.py": ""})
    text = render((root / "dvc.yaml").read_text(), root)
    deps = [line[8:] for line in text.splitlines() if line.startswith("      - ")]
    assert deps == ["stages/run.py", "pipeline/__init__.py", "pipeline/b.py", "pipeline/c.py",
                    "pipeline/sub/__init__.py", "pipeline/sub/d.py", "data/in", "out"]


def test_an_import_of_a_missing_module_is_an_error_naming_it(tmp_path):
    root = _tree(tmp_path, {"pipeline/b.py": "from pipeline.gone import f\n"})
    with pytest.raises(ImportClosureError, match=r"pipeline/b.py: imports pipeline.gone, which is no module"):
        render((root / "dvc.yaml").read_text(), root)


def test_deps_check_fails_on_a_stale_dvc_yaml_and_the_command_fixes_it(tmp_path, capsys):
    root = _tree(tmp_path, {"pipeline/b.py": ""})
    assert main(["--check", "--dvc-yaml", str(root / "dvc.yaml")]) == 1
    assert "python -m pipeline.tools.deps" in capsys.readouterr().err
    assert main(["--dvc-yaml", str(root / "dvc.yaml")]) == 0
    assert main(["--check", "--dvc-yaml", str(root / "dvc.yaml")]) == 0
    assert "      - pipeline/b.py\n" in (root / "dvc.yaml").read_text()


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
    assert {a["path"] for a in artifacts.values()} == {"models/model.npz", "models/best.npz", "models/best.onnx"}
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
