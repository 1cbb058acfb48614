"""Every stage script: --help works, and a user error is one clear line, not a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("download", "split", "train", "search", "export", "evaluate", "plot")


def run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "stages" / script), *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.mark.parametrize("stage", STAGES)
def test_help(stage):
    proc = run(f"{stage}.py", "--help")
    assert proc.returncode == 0 and "--params" in proc.stdout and "usage:" in proc.stdout


@pytest.mark.parametrize("stage, yaml_text, expected", [
    ("train", "train: {lr: -1}\n", "train: error: params.yaml:train.lr = -1.0 is not allowed: expected a finite number > 0"),
    ("train", "train: {optimizer: adam}\n", "train: error: params.yaml:train: unknown key(s) optimizer"),
    ("search", "search: {grid: {lr: [0.001]}, base: {momentum: 2}}\n", "search: error: params.yaml:search.base.momentum = 2.0"),
    ("search", "search: {grid: {depth: [2]}, base: {}}\n", "search: error: params.yaml:search.grid.depth is not a training key"),
    ("search", "search: {grid: {lr: [0.001, -3]}, base: {}}\n", "search: error: params.yaml:search.grid{'lr': -3}.lr = -3.0"),
    ("evaluate", "evaluate: {batch_size: 0}\n", "evaluate: error: params.yaml:evaluate.batch_size = 0"),
    ("plot", "plot: {max_misclassified: many}\n", "plot: error: params.yaml:plot.max_misclassified = 'many'"),
])
def test_bad_params_give_one_line(tmp_path, stage, yaml_text, expected):
    (tmp_path / "params.yaml").write_text(yaml_text)
    proc = run(f"{stage}.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith(expected), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_missing_input_names_the_file(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    proc = run("train.py", "--data", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "nowhere/train.npz" in proc.stderr and "split" in proc.stderr


def test_corrupt_model_names_the_file(tmp_path):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    bad = tmp_path / "model.npz"
    bad.write_text("not a zip")
    test_split = tmp_path / "test.npz"
    from pipeline.nn.npz import save_npz
    import numpy as np
    save_npz(test_split, {"images": np.zeros((3, 784), np.uint8), "labels": np.zeros(3, np.uint8)})
    proc = run("evaluate.py", "--model", str(bad), "--best", str(bad), "--test", str(test_split),
               "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "p"), cwd=tmp_path)
    assert proc.returncode == 1 and str(bad) in proc.stderr
    assert not (tmp_path / "m.json").exists()


# ---- run_stage: which errors are one line, which show a traceback ----

import errno  # noqa: E402

from pipeline.common.cli import run_stage, stage_parser, user_message  # noqa: E402
from pipeline.data.errors import ChecksumError  # noqa: E402
from pipeline.errors import PipelineError, WriteError  # noqa: E402
from pipeline.common.params import ParamsError  # noqa: E402
from pipeline.persistence import ModelFileError  # noqa: E402


@pytest.mark.parametrize("exc, expected", [
    (ParamsError("params.yaml:train.lr = -1 ..."), "params.yaml:train.lr = -1 ..."),
    (ChecksumError("data/raw/x: altered"), "data/raw/x: altered"),
    (ModelFileError("models/m.npz: bad"), "models/m.npz: bad"),
    (WriteError("models/m.npz", "No space left on device"), "models/m.npz: cannot write (No space left on device)"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "data/x"), "data/x: No such file or directory"),
    (OSError(errno.ENOSPC, "No space left on device"), "cannot write a temporary file (No space left on device)"),
])
def test_user_errors_are_one_line(exc, expected):
    assert user_message(exc).startswith(expected)


@pytest.mark.parametrize("exc", [ValueError("a bug"), RuntimeError("a bug"), KeyError("x"), TypeError("t"),
                                 OSError(errno.EBADF, "Bad file descriptor")])
def test_anything_else_is_a_bug(exc):
    assert user_message(exc) is None


def _run_in_process(exc, expected, match, monkeypatch, capsys, traceback_env=None):
    if traceback_env is None:
        monkeypatch.delenv("PIPELINE_TRACEBACK", raising=False)
    else:
        monkeypatch.setenv("PIPELINE_TRACEBACK", traceback_env)

    def main(args):
        raise exc

    parser = stage_parser("test")
    parser.prog = "stage.py"
    with pytest.raises(expected, match=match) as info:
        run_stage(main, parser, [])
    return info, capsys.readouterr().err


def test_run_stage_prints_user_errors_and_exits_1(monkeypatch, capsys):
    info, err = _run_in_process(PipelineError("it went wrong"), SystemExit, "^1$", monkeypatch, capsys)
    assert info.type is SystemExit and info.value.code == 1 and err == "stage: error: it went wrong\n"


def test_run_stage_lets_bugs_raise(monkeypatch, capsys):
    info, err = _run_in_process(ValueError("a bug"), ValueError, "^a bug$", monkeypatch, capsys)
    assert info.type is ValueError and err == ""


def test_pipeline_traceback_shows_user_errors_too(monkeypatch, capsys):
    info, _ = _run_in_process(PipelineError("it went wrong"), PipelineError, "^it went wrong$", monkeypatch, capsys,
                              traceback_env="1")
    assert info.type is PipelineError


def test_pipeline_traceback_end_to_end(tmp_path):
    import os

    (tmp_path / "params.yaml").write_text("train: {lr: -1}\n")
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "train.py")], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PIPELINE_TRACEBACK": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "ParamsError" in proc.stderr


# ---- stages import the pipeline/ of their own tree ----

def _tree_copy(tmp_path):
    import shutil

    tree = tmp_path / "tree"
    for name in ("pipeline", "stages"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "params.yaml").write_text("train: {lr: -1}\n")
    return tree


def test_a_stage_run_as_a_module_imports_its_own_trees_pipeline(tmp_path):
    tree = _tree_copy(tmp_path)
    with open(tree / "pipeline" / "__init__.py", "a") as f:
        f.write("print('imported', __file__)\n")
    proc = subprocess.run([sys.executable, "-m", "stages.train"], cwd=tree, capture_output=True, text=True)
    assert f"imported {tree / 'pipeline' / '__init__.py'}" in proc.stdout
    assert proc.returncode == 1 and proc.stderr.startswith("train: error: ") and "lr" in proc.stderr


def test_a_stage_script_with_another_trees_pipeline_is_refused(tmp_path):
    tree = _tree_copy(tmp_path)
    proc = subprocess.run([sys.executable, str(tree / "stages" / "train.py")], cwd=tree, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr == (f"train: error: {tree / 'stages' / 'train.py'} imported pipeline/ from {ROOT}, not from "
                           f"its own tree {tree}: run it as `python -m stages.train` from {tree}\n")
