"""pipeline.search: grid expansion, validation, parallel trials, diverged trials, the best trial."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.params import ParamsError
from pipeline.search import SearchParams, Trial, best_trial, resolve_workers, run_search, run_trial
from synthetic import block_images

WHERE = "params.yaml:search"


def small_data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, y = block_images(200, rng)
    Xv, yv = block_images(60, rng)
    return {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}


def params(grid: dict, **base) -> SearchParams:
    base = {"num_epochs": 2, "batch_size": 50, "input_scaling": "unit", "lr": 0.5, "hidden_dim": 8, **base}
    return SearchParams.from_dict({"grid": grid, "base": base, "workers": 2}, WHERE)


def test_grid_expands_in_order_first_key_slowest():
    p = params({"lr": [0.1, 0.01], "hidden_dim": [4, 8, 16]})
    trials = p.trials()
    assert [(t.lr, t.hidden_dim) for t in trials] == [
        (0.1, 4), (0.1, 8), (0.1, 16), (0.01, 4), (0.01, 8), (0.01, 16)]
    assert all(t.num_epochs == 2 for t in trials)


@pytest.mark.parametrize("grid, message", [
    ({"depth": [1]}, "params.yaml:search.grid.depth is not a training key"),
    ({"lr": []}, "params.yaml:search.grid.lr = [] is not allowed"),
    ({"lr": 0.1}, "params.yaml:search.grid.lr = 0.1 is not allowed"),
    ({"hidden_dim": [8, 0]}, ".hidden_dim = 0 is not allowed"),
    ({"seed": [1, 2]}, "params.yaml:search.grid.seed is not a training key"),
])
def test_bad_grid_is_rejected_before_training(grid, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        params(grid)


def test_missing_base_is_named():
    with pytest.raises(ParamsError, match="missing key 'base'"):
        SearchParams.from_dict({"grid": {"lr": [0.1]}}, WHERE)


def test_resolve_workers():
    assert resolve_workers(3, 10) == 3
    assert resolve_workers(8, 2) == 2
    assert resolve_workers(0, 100) >= 1


def test_run_search_trains_every_point_and_matches_a_serial_run():
    p = params({"hidden_dim": [4, 8], "reg": [0.0, 0.01]})
    data = small_data()
    trials = run_search(p, data)
    assert [t.index for t in trials] == [0, 1, 2, 3]
    assert [(t.overrides["hidden_dim"], t.overrides["reg"]) for t in trials] == [(4, 0.0), (4, 0.01), (8, 0.0), (8, 0.01)]
    assert all(t.status == "ok" and 0.0 <= t.best_val_acc <= 1.0 for t in trials)
    # A worker's result is the same trial trained in this process (one BLAS thread or two).
    serial = run_trial(2, p.trials()[2], trials[2].overrides, data)
    assert serial.best_val_acc == trials[2].best_val_acc
    assert serial.params["W1"].shape == trials[2].params["W1"].shape == (64, 8)


def test_diverged_trial_is_recorded_not_raised():
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (50, 784), dtype=np.uint8), rng.integers(0, 10, 50).astype(np.uint8)
    p = params({"lr": [1e6]}, input_scaling="raw", weight_scale=1.0, hidden_dim=100, batch_size=25, num_epochs=5)
    with np.errstate(all="ignore"):
        trial = run_trial(0, p.trials()[0], {"lr": 1e6}, {"X_train": X, "y_train": y, "X_val": X, "y_val": y})
    assert trial.status == "diverged" and trial.best_val_acc is None and trial.params is None
    assert "diverged" in trial.error and "learning rate 1e+06" in trial.error
    assert trial.row()["status"] == "diverged" and "seconds" not in trial.row()


def _trial(index: int, acc: float | None) -> Trial:
    return Trial(index, {"lr": 0.1}, "ok" if acc is not None else "diverged", acc, 1, 0.5, 2, 0.0)


def test_best_trial_highest_accuracy_first_in_grid_order_on_ties():
    assert best_trial([_trial(0, 0.5), _trial(1, 0.9), _trial(2, None)]).index == 1
    assert best_trial([_trial(0, 0.9), _trial(1, 0.9)]).index == 0


def test_best_trial_when_all_diverged_says_what_to_do():
    with pytest.raises(RuntimeError, match="every trial of the search diverged"):
        best_trial([_trial(0, None), _trial(1, None)])
