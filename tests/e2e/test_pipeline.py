"""End to end: the real `dvc repro`, `dvc exp run` and `dvc metrics diff` on the real data, small settings."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest

from pipeline.common.fileio import read_csv_columns
from pipeline.persistence import load_model

from support import ROOT, Repo, ran_stages, restored_stages

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def repo(pipeline_repo: Repo) -> Repo:
    """This test's copy of the pipeline run on small settings, its outputs committed (conftest)."""
    assert pipeline_repo.dvc("status", "--json").stdout.strip() == "{}"
    return pipeline_repo


def test_every_output_exists_and_parses(repo):
    p = repo.path
    assert sorted(f.name for f in (p / "data/raw").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    assert json.loads(repo.read("data/raw_source.json"))["source"] in ("mirrors", "package")
    split = json.loads(repo.read("metrics/split.json"))
    assert (split["train"]["total"], split["val"]["total"], split["test"]["total"]) == (300, 5000, 10000)
    for name in ("model", "best"):
        model, meta = load_model(p / f"models/{name}.npz")
        assert meta["train_config"]["num_epochs"] == 2
    train = json.loads(repo.read("metrics/train.json"))
    assert 0.0 <= train["best_val_acc"] <= 1.0 and train["epochs"] == 2
    search = json.loads(repo.read("metrics/search.json"))
    assert search["trials"] == 2 and search["best_params"]["hidden_dim"] in (12, 20)
    evaluation = json.loads(repo.read("metrics/evaluate.json"))
    assert set(evaluation) == {"model", "best"} and 0.0 < evaluation["best"]["test_acc"] <= 1.0
    assert set(evaluation["best"]) == {"test_acc", "errors"}  # per class: a plot, not 20 metrics
    per_class = read_csv_columns(p / "plots/evaluate/per_class_acc.csv")
    assert per_class["class"] == [str(c) for c in range(10)]
    assert all(0.0 <= float(a) <= 1.0 for a in per_class["best"] + per_class["model"])
    epochs = read_csv_columns(p / "plots/train/epochs.csv")
    assert epochs["epoch"] == ["0", "1", "2"]
    assert len(read_csv_columns(p / "plots/train/iterations.csv")["loss"]) == 2 * (300 // 200)
    confusion = read_csv_columns(p / "plots/evaluate/confusion_best.csv")
    assert len(confusion["actual"]) == 10000
    assert len(read_csv_columns(p / "reports/search_results.csv")["trial"]) == 2
    assert [o.name for o in onnx.load(p / "models/best.onnx").graph.output] == ["probabilities"]
    assert repo.read("reports/model_card.md").startswith(b"# Model card: models/best.npz\n")
    figures = sorted((p / "plots/figures").glob("*.png"))
    assert len(figures) == 6 and all(f.read_bytes()[:8] == PNG for f in figures)
    # Wall times: positive, and far below a generous bound for 2 epochs on 300 images.
    assert 0 < json.loads(repo.read("logs/train_timing.json"))["train_seconds"] < 300
    search_timing = json.loads(repo.read("logs/search_timing.json"))
    trial_seconds = search_timing["trial_seconds"]
    assert set(trial_seconds) == {"0", "1"} and all(0 < s < 300 for s in trial_seconds.values())
    assert search_timing["total_trial_seconds"] == pytest.approx(sum(trial_seconds.values()), abs=0.002)
    assert (search_timing["from_store"], search_timing["epochs_run"], search_timing["epochs_planned"]) == (0, 4, 4)


def test_wall_times_are_in_no_metric_and_no_tracked_file(repo):
    shown = json.loads(repo.dvc("metrics", "show", "--json").stdout)
    assert "seconds" not in json.dumps(shown)
    assert repo.git("status", "--porcelain", "--ignored", "logs").stdout.split() == ["!!", "logs/"]


def test_second_repro_has_nothing_to_do(repo):
    again = repo.dvc("repro")
    assert ran_stages(again.stdout) == set()
    assert repo.dvc("status", "-q", check=False).returncode == 0


def test_forced_repro_leaves_lock_byte_identical_and_the_tree_clean(repo):
    lock = repo.read("dvc.lock")
    figures = {f.name: f.read_bytes() for f in (repo.path / "plots/figures").glob("*.png")}
    repo.dvc("repro", "-f")
    assert repo.read("dvc.lock") == lock
    assert {f.name: f.read_bytes() for f in (repo.path / "plots/figures").glob("*.png")} == figures
    assert repo.git("status", "--porcelain").stdout == ""  # wall times went to the ignored logs/


def test_runtime_settings_leave_dvc_status_clean(repo):
    """search.workers and download.timeout change how a stage runs, not what it writes: DVC does not track them."""
    repo.set_params({"search": {"workers": 1}, "download": {"timeout": 5}})
    try:
        status = repo.dvc("status", "--json")
        assert json.loads(status.stdout) == {}
        assert ran_stages(repo.dvc("repro").stdout) == set()
    finally:
        repo.git("checkout", "--", "params.yaml")
    repo.set_params({"search": {"base": {"num_epochs": 3}}})  # a result-affecting key still counts
    try:
        assert set(json.loads(repo.dvc("status", "--json").stdout)) == {"search"}
    finally:
        repo.git("checkout", "--", "params.yaml")


def test_search_outputs_do_not_depend_on_worker_count(repo):
    def search_outs() -> list:
        import yaml
        return yaml.safe_load(repo.read("dvc.lock"))["stages"]["search"]["outs"]

    before = search_outs()
    repo.set_params({"search": {"workers": 1}})
    repo.dvc("repro", "-f", "-s", "search")
    assert search_outs() == before
    repo.git("checkout", "--", "params.yaml")


def test_check_repro_passes_on_committed_outputs_and_fails_on_tampered_metrics(repo):
    assert repo.git("status", "--porcelain").stdout == ""
    check = [sys.executable, "-m", "pipeline.tools.check_repro", "--repo", str(repo.path), "--stages", "train"]
    ok = subprocess.run(check, cwd=ROOT, env=repo.env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "bit-identical" in ok.stdout and "metrics/train.json:best_val_acc" in ok.stdout

    workspace = [sys.executable, "-m", "pipeline.tools.check_repro", "--repo", str(repo.path), "--workspace"]
    same = subprocess.run(workspace, cwd=ROOT, env=repo.env, capture_output=True, text=True)
    assert same.returncode == 0 and "bit-identical" in same.stdout, same.stdout + same.stderr

    metrics = json.loads(repo.read("metrics/train.json"))
    metrics["best_val_acc"] -= 0.05
    (repo.path / "metrics/train.json").write_text(json.dumps(metrics))
    moved = subprocess.run(workspace, cwd=ROOT, env=repo.env, capture_output=True, text=True)
    assert moved.returncode == 1 and "metrics/train.json:best_val_acc" in moved.stdout
    repo.git("commit", "-qam", "tampered")
    bad = subprocess.run(check, cwd=ROOT, env=repo.env, capture_output=True, text=True)
    assert bad.returncode == 1 and "FAILED" in bad.stdout and "DIFFERS" in bad.stdout
    repo.git("reset", "-q", "--hard", "HEAD~1")


def test_exp_run_reruns_only_what_train_affects(repo):
    repo.git("add", "-A")
    repo.git("commit", "-q", "--allow-empty", "-m", "pipeline outputs")
    before = json.loads(repo.read("metrics/train.json"))
    exp = repo.dvc("exp", "run", "-S", "train.reg=0.5")
    assert ran_stages(exp.stdout) == {"train", "evaluate", "plot"}
    after = json.loads(repo.read("metrics/train.json"))
    assert after != before
    diff = repo.dvc("metrics", "diff", "--json")
    changed = json.loads(diff.stdout)
    assert "metrics/train.json" in changed and "metrics/search.json" not in changed
    assert "final_loss" in changed["metrics/train.json"]
    shown = list(csv.DictReader(io.StringIO(repo.dvc("exp", "show", "--csv").stdout)))
    [reg_column] = [c for c in shown[0] if c.split(":")[-1] in ("train.reg", "reg")]
    assert sorted({row[reg_column] for row in shown}) == ["0.0", "0.5"], shown  # the baseline and the experiment
    model, meta = load_model(repo.path / "models/model.npz")
    assert meta["train_config"]["reg"] == 0.5 and model.reg == 0.5
    assert np.isfinite(model.params["W1"]).all()


def test_run_cache_restores_every_stage_of_an_experiment_seen_before(repo):
    """Flipping train.reg back and forth trains once per value; a search grid seen before is not rerun."""
    def exp_run(*sets: str) -> tuple[subprocess.CompletedProcess, float]:
        start = time.perf_counter()
        out = repo.dvc("exp", "run", *[a for kv in sets for a in ("-S", kv)])
        return out, time.perf_counter() - start

    first, run_seconds = exp_run("train.reg=0.02")
    assert ran_stages(first.stdout) == {"train", "evaluate", "plot"}
    metrics = repo.read("metrics/train.json"), repo.read("metrics/evaluate.json")
    back = exp_run("train.reg=0.0")[0]  # the committed baseline: its run-cache entries came with `dvc repro`
    assert ran_stages(back.stdout) == set() and restored_stages(back.stdout) == {"train", "evaluate", "plot"}
    again, restore_seconds = exp_run("train.reg=0.02")
    assert ran_stages(again.stdout) == set() and restored_stages(again.stdout) == {"train", "evaluate", "plot"}
    assert (repo.read("metrics/train.json"), repo.read("metrics/evaluate.json")) == metrics
    print(f"train.reg=0.02: run {run_seconds:.1f} s, restored from the run-cache {restore_seconds:.1f} s")

    grid = repo.read("reports/search_results.csv")
    assert ran_stages(exp_run("search.grid.hidden_dim=[12]")[0].stdout) >= {"search", "plot"}
    seen = exp_run("search.grid.hidden_dim=[12,20]")[0]
    assert ran_stages(seen.stdout) == set() and {"search", "plot"} <= restored_stages(seen.stdout)
    assert repo.read("reports/search_results.csv") == grid

    onnx_bytes = repo.read("models/best.onnx")
    assert ran_stages(exp_run("export.tolerance=2.0e-05")[0].stdout) == {"export"}
    back = exp_run("export.tolerance=1.0e-05")[0]
    assert ran_stages(back.stdout) == set() and restored_stages(back.stdout) == {"export"}
    assert repo.read("models/best.onnx") == onnx_bytes
    assert repo.dvc("status", "--json").stdout.strip() == "{}"
def test_exp_run_with_training_aids_draws_the_augmentation_figure(repo):
    # The recipes' keys work as `dvc exp run -S` settings; augmentation adds its figure to the plot stage.
    repo.git("add", "-A")
    repo.git("commit", "-q", "--allow-empty", "-m", "pipeline outputs")
    assert not (repo.path / "plots/figures/augmentation.png").exists()
    exp = repo.dvc("exp", "run", "-S", "train.augment_shift=1", "-S", "train.augment_elastic_alpha=30.0",
                   "-S", "train.dropout=0.3", "-S", "train.label_smoothing=0.1")
    assert ran_stages(exp.stdout) == {"train", "evaluate", "plot"}
    assert (repo.path / "plots/figures/augmentation.png").read_bytes()[:4] == b"\x89PNG"
    _, meta = load_model(repo.path / "models/model.npz")
    assert meta["train_config"]["augment_shift"] == 1 and meta["train_config"]["dropout"] == 0.3
