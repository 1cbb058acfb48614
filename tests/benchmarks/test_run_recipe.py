"""TrainParams's training-aid keys reach the model and Solver; recipes load, validate and run (run_recipe.py)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline.nn.augment import Augmenter
from pipeline.nn.npz import save_npz
from pipeline.common.params import ParamsError
from pipeline.training import OPTIONAL_KEYS, TrainParams, build_model, recorded_config, train
from pipeline.tools.recipe import RecipeError

from support import ROOT, benchmark_module

run_recipe = benchmark_module("run_recipe")


def digit_blocks(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images: class k is a bright 8x8 square in the k-th quadrant, over faint noise."""
    y = rng.integers(0, 4, n)
    X = rng.integers(0, 40, (n, 28, 28))
    for k in range(4):
        r, c = 3 + 12 * (k // 2), 3 + 12 * (k % 2)
        X[y == k, r:r + 8, c:c + 8] += 200
    return X.reshape(n, 784).astype(np.uint8), y


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X_train, y_train = digit_blocks(240, rng)
    X_val, y_val = digit_blocks(60, rng)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def config(**overrides) -> TrainParams:
    base = {"hidden_dim": 16, "input_scaling": "unit", "init": "he", "update_rule": "momentum", "lr": 0.05,
            "batch_size": 20, "num_epochs": 3, "seed": 0}
    return TrainParams.from_dict({**base, **overrides}, "test")


def test_defaults_switch_every_aid_off(data):
    c = TrainParams()
    assert (c.dropout, c.label_smoothing, c.patience) == (0.0, 0.0, None)
    assert not c.augment_config().active
    result = train(config(), data, verbose=False)
    assert result.solver.augment is None and result.solver.patience is None
    assert result.model.dropout == 0.0 and result.model.label_smoothing == 0.0
    assert "stopped_early" not in result.metrics()


def test_recorded_config_omits_optional_keys_at_their_default():
    plain = recorded_config(TrainParams())
    assert not set(OPTIONAL_KEYS) & set(plain), "an assignment model's metadata stays as it was"
    assert set(plain) == {f.name for f in dataclasses.fields(TrainParams)} - set(OPTIONAL_KEYS)
    rec = recorded_config(TrainParams(dropout=0.5, augment_shift=2))
    assert rec["dropout"] == 0.5 and rec["augment_shift"] == 2 and "augment_rotation" not in rec


def test_dropout_and_label_smoothing_reach_the_model(data):
    model = build_model(config(dropout=0.3, label_smoothing=0.1), data["X_train"])
    assert model.dropout == 0.3 and model.label_smoothing == 0.1
    a = train(config(dropout=0.3), data, verbose=False)
    b = train(config(dropout=0.3), data, verbose=False)
    c = train(config(), data, verbose=False)
    assert a.solver.loss_history == b.solver.loss_history, "dropout is seeded"
    assert a.solver.loss_history != c.solver.loss_history


def test_augmentation_reaches_the_solver_and_is_seeded(data):
    cfg = config(augment_shift=2, augment_rotation=10, augment_elastic_alpha=20)
    a = train(cfg, data, verbose=False)
    assert isinstance(a.solver.augment, Augmenter) and a.solver.augment.config.shift == 2
    b = train(cfg, data, verbose=False)
    plain = train(config(), data, verbose=False)
    assert a.solver.loss_history == b.solver.loss_history
    assert a.solver.loss_history != plain.solver.loss_history
    assert a.metrics()["best_val_acc"] > 0.9, "the quadrant squares survive the distortions"


def test_augmentation_needs_square_images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (40, 60), dtype=np.uint8)
    d = {"X_train": X, "y_train": np.arange(40) % 2, "X_val": X[:10], "y_val": np.arange(10) % 2}
    with pytest.raises(ValueError, match="not square"):
        train(config(augment_shift=1), d, verbose=False)


def test_patience_stops_early(data):
    result = train(config(patience=1, num_epochs=30, lr=0.05), data, verbose=False)
    assert result.solver.stopped_early and result.metrics()["stopped_early"] is True
    assert result.metrics()["epochs"] < 30


@pytest.mark.parametrize("key, value, word", [("dropout", 1.0, "dropout"), ("label_smoothing", 1.0, "label_smoothing"),
                                              ("augment_scale", 1.0, "augment_scale"), ("patience", 0, "patience"),
                                              ("augment_shift", -1, "augment_shift"), ("keep", "first", "keep"),
                                              ("augment_elastic_sigma", 0.0, "augment_elastic_sigma")])
def test_bad_values_name_the_key(key, value, word):
    with pytest.raises(ParamsError, match=word):
        config(**{key: value})


# ------------------------------------------------------------------------------ recipes
@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "recipes").glob("*.yaml")))
def test_shipped_recipes_are_valid_configs(name):
    c = run_recipe.recipe_config(name, ROOT / "params.yaml", seed=5)
    assert c.seed == 5 and c.hidden_dim >= 800 and c.dropout > 0
    assert c.augment_config().active == name.startswith("augmented")


def test_print_command_is_the_recipe_tools_line():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_recipe.py"), "--recipe", "plain",
                           "--print-command"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    tool = subprocess.run([sys.executable, "-m", "pipeline.tools.recipe", "plain"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == tool.stdout
    assert proc.stdout.startswith("dvc exp run -n plain -S train.hidden_dim=800 ")


def test_a_recipe_with_an_unknown_key_is_refused(tmp_path):
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("train:\n  hiden_dim: 3\n")
    with pytest.raises(RecipeError, match="train.hiden_dim is no training key"):
        run_recipe.recipe_config(str(unknown), ROOT / "params.yaml")


def test_run_recipe_end_to_end(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 200), ("val", 40), ("test", 40)):
        X, y = digit_blocks(n, rng)
        save_npz(tmp_path / f"{split}.npz", {"images": X, "labels": y.astype(np.uint8)})
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_recipe.py"), "--recipe", "augmented",
                           "--seeds", "0", "1", "--data", str(tmp_path), "--save", str(out),
                           "--set", "num_epochs=2", "hidden_dim=16"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert [r["seed"] for r in result["seeds"]] == [0, 1]
    s = result["summary"]
    assert s["test_acc_min"] <= s["test_acc_mean"] <= s["test_acc_max"] and s["test_acc_std"] >= 0
    assert result["config"]["hidden_dim"] == 16 and result["config"]["augment_elastic_alpha"] > 0
    assert all(r["train_wall_s"] > 0 and r["epochs"] == 2 for r in result["seeds"])
    assert all(r["keep"] == "best" and r["kept_epoch"] == r["best_epoch"] and r["kept_val_acc"] == r["best_val_acc"]
               for r in result["seeds"])
    assert "test" in proc.stdout and "CPU/core" in proc.stdout
    missing = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_recipe.py"), "--recipe", "plain",
                              "--data", str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr



def test_a_keep_last_seed_reports_the_final_epoch(data):
    """lr 50 from epoch 3 on spoils the model, so the final epoch is not the best one."""
    spoiled = config(init="normal", weight_scale=1e-2, update_rule="sgd", lr=0.5, schedule="step", step_size=3,
                     gamma=100.0, batch_size=20, num_epochs=6)
    rows = {keep: run_recipe.run_seed(dataclasses.replace(spoiled, keep=keep), data,
                                      (data["X_val"], data["y_val"]), progress=False) for keep in ("best", "last")}
    best, last = rows["best"], rows["last"]
    assert (last["keep"], last["kept_epoch"]) == ("last", 6) and last["best_epoch"] == best["kept_epoch"] < 6
    assert last["kept_val_acc"] < last["best_val_acc"] == best["kept_val_acc"]
    # Evaluated on the validation images, the test accuracy is the kept parameters' val accuracy.
    assert last["test_acc"] == last["kept_val_acc"] and best["test_acc"] == best["best_val_acc"]
