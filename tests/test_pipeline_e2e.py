"""End to end: the real `dvc repro`, `dvc exp run` and `dvc metrics diff` on the real data, small settings."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from pipeline.fileio import read_csv_columns
from pipeline.persistence import load_model

from e2e import ROOT, Repo

PNG = b"\x89PNG\r\n\x1a\n"


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([a-z]+)'", output))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    repo = Repo.create(tmp_path_factory.mktemp("e2e"))
    first = repo.dvc("repro")
    assert ran_stages(first.stdout) == {"download", "split", "train", "search", "evaluate", "plot"}
    return repo


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
    epochs = read_csv_columns(p / "plots/train/epochs.csv")
    assert epochs["epoch"] == ["0", "1", "2"]
    assert len(read_csv_columns(p / "plots/train/iterations.csv")["loss"]) == 2 * (300 // 200)
    confusion = read_csv_columns(p / "plots/evaluate/confusion_best.csv")
    assert len(confusion["actual"]) == 10000
    assert len(read_csv_columns(p / "reports/search_results.csv")["trial"]) == 2
    figures = sorted((p / "plots/figures").glob("*.png"))
    assert len(figures) == 6 and all(f.read_bytes()[:8] == PNG for f in figures)
    for timing in ("metrics/timing/train.json", "metrics/timing/search.json"):
        assert json.loads(repo.read(timing))


def test_second_repro_has_nothing_to_do(repo):
    again = repo.dvc("repro")
    assert ran_stages(again.stdout) == set()
    assert repo.dvc("status", "-q", check=False).returncode == 0


def test_forced_repro_leaves_lock_byte_identical(repo):
    lock = repo.read("dvc.lock")
    figures = {f.name: f.read_bytes() for f in (repo.path / "plots/figures").glob("*.png")}
    repo.dvc("repro", "-f")
    assert repo.read("dvc.lock") == lock
    assert {f.name: f.read_bytes() for f in (repo.path / "plots/figures").glob("*.png")} == figures


def test_search_outputs_do_not_depend_on_worker_count(repo):
    def search_outs() -> list:
        import yaml
        return yaml.safe_load(repo.read("dvc.lock"))["stages"]["search"]["outs"]

    before = search_outs()
    repo.set_params({"search": {"workers": 1}})
    repo.dvc("repro", "search")
    assert search_outs() == before
    repo.set_params({"search": {"workers": 0}})
    repo.dvc("repro", "search")
    assert search_outs() == before


def test_check_repro_passes_on_committed_outputs_and_fails_on_tampered_metrics(repo):
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "pipeline outputs")
    check = [sys.executable, "-m", "pipeline.check_repro", "--repo", str(repo.path), "--stages", "train"]
    ok = subprocess.run(check, cwd=ROOT, env=repo.env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "bit-identical" in ok.stdout and "metrics/train.json:best_val_acc" in ok.stdout

    workspace = [sys.executable, "-m", "pipeline.check_repro", "--repo", str(repo.path), "--workspace"]
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
    shown = repo.dvc("exp", "show", "--csv").stdout
    assert "train.reg" in shown or "reg" in shown
    model, meta = load_model(repo.path / "models/model.npz")
    assert meta["train_config"]["reg"] == 0.5 and model.reg == 0.5
    assert np.isfinite(model.params["W1"]).all()


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
