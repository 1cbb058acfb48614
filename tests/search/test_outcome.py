"""pipeline.search.outcome and the runner's rung sizes: what the search stage writes, computed in the library."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.search.outcome import best_model, results_table, search_metrics
from pipeline.search.runner import plan, planned_epochs, rung_sizes, run_search
from support import search_params, small_data

GRID = {"lr": [0.5, 0.05, 0.005], "hidden_dim": [4, 16, 32]}


def test_rung_sizes_and_planned_epochs_follow_the_halving_plan():
    p = search_params(GRID, {"num_epochs": 6}, strategy="halving", halving={"min_epochs": 1, "eta": 3})
    configs = p.trials()
    assert plan(p, configs) == [1, 3, 6]
    assert rung_sizes(p, configs) == [9, 3, 1]
    assert planned_epochs(p, configs) == 9 * 1 + 3 * (3 - 1) + 1 * (6 - 3)
    grid = search_params(GRID, {"num_epochs": 6})
    assert rung_sizes(grid, grid.trials()) == [9]
    assert planned_epochs(grid, grid.trials()) == 9 * 6


def test_best_model_metrics_and_table_of_a_grid_search():
    p = search_params({"hidden_dim": [4, 8]}, executor="serial")
    data = small_data()
    result = run_search(p, data)
    configs = p.trials()
    model, config, best = best_model(result, configs, data)
    assert config == configs[best.index] and model.hidden_dim == config.hidden_dim
    for k, v in best.params.items():
        assert np.array_equal(model.params[k], v)
    assert model.params["W1"] is not best.params["W1"]
    assert model.accuracy(data["X_val"], data["y_val"]) == best.best_val_acc  # the preprocessing fitted as in training
    metrics = search_metrics(p, result)
    assert metrics == {"best_val_acc": best.best_val_acc, "best_trial": best.index, "best_params": best.overrides,
                       "best_epoch": best.best_epoch, "trials": 2, "diverged": 0}
    header, rows = results_table(result)
    assert header[0] == "trial" and header[-5:] == ["status", "best_val_acc", "best_epoch", "final_train_acc", "epochs"]
    column = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    assert column["trial"] == [0, 1] and column["hidden_dim"] == [4, 8] and column["status"] == ["ok", "ok"]
    assert column["best_val_acc"][best.index] == best.best_val_acc


def test_halving_metrics_name_the_strategy_and_epochs():
    p = search_params({"hidden_dim": [4, 8, 16]}, {"num_epochs": 3}, executor="serial", strategy="halving",
                      halving={"min_epochs": 1, "eta": 3})
    result = run_search(p, small_data())
    metrics = search_metrics(p, result)
    assert metrics["strategy"] == "halving" and metrics["epochs_trained"] == 3 * 1 + 1 * 2


def test_best_model_of_an_all_diverged_search_is_refused():
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (50, 784), dtype=np.uint8), rng.integers(0, 10, 50).astype(np.uint8)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    p = search_params({"lr": [1e6]}, {"input_scaling": "raw", "weight_scale": 1.0, "hidden_dim": 100,
                                      "batch_size": 25, "num_epochs": 3}, executor="serial")
    with np.errstate(all="ignore"):
        result = run_search(p, data)
    with pytest.raises(PipelineError, match="every trial of the search diverged"):
        best_model(result, p.trials(), data)
