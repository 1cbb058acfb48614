"""pipeline.search.settings and runner: validation, candidates, the store and the executors agree."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.common.params import ParamsError
from pipeline.search.runner import run_search
from pipeline.search.settings import RUNTIME_KEYS, SearchParams
from pipeline.search.store import TrialStore
from pipeline.search.trial import best_trial
from pipeline.search.executors import SerialExecutor
from support import WHERE, same_trials, search_params, small_data


def test_grid_expands_in_order_first_key_slowest():
    p = search_params({"lr": [0.1, 0.01], "hidden_dim": [4, 8, 16]})
    trials = p.trials()
    assert [(t.lr, t.hidden_dim) for t in trials] == [
        (0.1, 4), (0.1, 8), (0.1, 16), (0.01, 4), (0.01, 8), (0.01, 16)]
    assert all(t.num_epochs == 2 for t in trials)
    assert p.strategy == "grid" and p.executor == "local"


@pytest.mark.parametrize("grid, message", [
    ({"depth": [1]}, "params.yaml:search.grid.depth is not a training key"),
    ({"lr": []}, "params.yaml:search.grid.lr = [] is not allowed"),
    ({"lr": 0.1}, "params.yaml:search.grid.lr = 0.1 is not allowed"),
    ({"hidden_dim": [8, 0]}, ".hidden_dim = 0 is not allowed"),
    ({"seed": [1, 2]}, "params.yaml:search.grid.seed is not a training key"),
    ({"keep": ["best", "last"]}, "params.yaml:search.grid.keep is not a training key"),
])
def test_bad_grid_is_rejected_before_training(grid, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        search_params(grid)


@pytest.mark.parametrize("settings, message", [
    ({"strategy": "bayes"}, "params.yaml:search.strategy = 'bayes' is not allowed: expected one of grid, random"),
    ({"executor": "ray"}, "params.yaml:search.executor = 'ray' is not allowed"),
    ({"halving": {"eta": 1}}, "params.yaml:search.halving.eta = 1 is not allowed: expected an integer >= 2"),
    ({"halving": {"rungs": 3}}, "params.yaml:search.halving: unknown key(s) rungs"),
    ({"random": {"ranges": {"lr": [0.1, 0.01]}}}, "params.yaml:search.random.ranges.lr = [0.1, 0.01] is not allowed"),
    ({"random": {"ranges": {"hidden_dim": [10.5, 20]}}}, "random.ranges.hidden_dim = [10.5, 20] is not allowed"),
    ({"random": {"ranges": {"update_rule": [1, 2]}}}, "random.ranges.update_rule cannot be sampled"),
    ({"dask": {"address": 8786}}, "params.yaml:search.dask.address = 8786 is not allowed"),
    ({"store": True}, "params.yaml:search.store = True is not allowed: expected a folder path, null"),
    ({"store": ""}, "params.yaml:search.store = '' is not allowed"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        search_params({"lr": [0.1]}, **settings)


def test_a_search_keeps_each_trials_best_epoch():
    with pytest.raises(ParamsError, match=r"params.yaml:search: base.keep = 'last' is not allowed: a search ranks "
                                          r"its trials by their best validation accuracy .*; use 'best'"):
        search_params({"lr": [0.1]}, base={"keep": "last"})
    assert search_params({"lr": [0.1]}, base={"keep": "best"}).base.keep == "best"


def test_missing_base_is_named():
    with pytest.raises(ParamsError, match="missing key 'base'"):
        SearchParams.from_dict({"grid": {"lr": [0.1]}}, WHERE)


def test_runtime_keys_are_settings_of_the_search():
    names = {f"search.{f}" for f in SearchParams.__dataclass_fields__}
    assert set(RUNTIME_KEYS) <= names and "search.grid" not in RUNTIME_KEYS


def test_store_folder_from_params_unless_overridden():
    assert search_params({"lr": [0.1]}).store_folder() == ".search_store"
    assert search_params({"lr": [0.1]}, store=False).store_folder() is None
    elsewhere = search_params({"lr": [0.1]}, store="/shared/trials")
    assert elsewhere.store_folder() == "/shared/trials"
    assert elsewhere.store_folder("other") == "other" and elsewhere.store_folder("") is None
    assert search_params({"lr": [0.1]}, store=False).store_folder("kept") == "kept"


def test_grid_search_trains_every_point_serial_equals_local_pool():
    p = search_params({"hidden_dim": [4, 8], "reg": [0.0, 0.01]})
    data = small_data()
    local = run_search(p, data).trials
    with SerialExecutor(data) as serial_executor:
        serial = run_search(p, data, executor=serial_executor).trials
    assert [t.index for t in local] == [0, 1, 2, 3]
    assert [(t.overrides["hidden_dim"], t.overrides["reg"]) for t in local] == [(4, 0.0), (4, 0.01), (8, 0.0), (8, 0.01)]
    assert all(t.status == "ok" and 0.0 <= t.best_val_acc <= 1.0 and t.epochs == 2 for t in local)
    assert same_trials(local, serial)
    assert local[2].params["W1"].shape == (64, 8)


def test_store_makes_a_rerun_train_nothing_and_change_nothing(tmp_path):
    p = search_params({"hidden_dim": [4, 8]}, executor="serial")
    data = small_data()
    fresh = run_search(p, data)
    first = run_search(p, data, store=TrialStore(tmp_path))
    again = run_search(p, data, store=TrialStore(tmp_path))
    assert first.from_store == 0 and again.from_store == 2
    assert all(t.from_store and t.epochs_trained == 0 for t in again.trials)
    assert same_trials(fresh.trials, first.trials) and same_trials(fresh.trials, again.trials)


def test_store_entries_of_other_settings_or_data_are_not_used(tmp_path):
    data = small_data()
    run_search(search_params({"hidden_dim": [4, 8]}, executor="serial"), data, store=TrialStore(tmp_path))
    other_base = run_search(search_params({"hidden_dim": [4, 8]}, {"lr": 0.4}, executor="serial"), data,
                            store=TrialStore(tmp_path))
    other_data = run_search(search_params({"hidden_dim": [4, 8]}, executor="serial"), small_data(seed=1),
                            store=TrialStore(tmp_path))
    assert other_base.from_store == 0 and other_data.from_store == 0
    # The grid point hidden_dim=8 of a wider grid is the same trial: reused.
    wider = run_search(search_params({"hidden_dim": [8, 16]}, executor="serial"), data, store=TrialStore(tmp_path))
    assert wider.from_store == 1 and wider.trials[0].from_store and not wider.trials[1].from_store


def test_halving_keeps_the_best_and_survivors_equal_full_grid_trials(tmp_path):
    grid = {"lr": [0.5, 0.05, 0.005], "hidden_dim": [4, 16, 32]}
    base = {"num_epochs": 6}
    data = small_data()
    full = run_search(search_params(grid, base, executor="serial"), data)
    halving = run_search(search_params(grid, base, executor="serial", strategy="halving",
                                       halving={"min_epochs": 1, "eta": 3}), data, store=TrialStore(tmp_path))
    assert halving.rungs == [1, 3, 6]
    assert halving.epochs_trained == 9 * 1 + 3 * 2 + 1 * 3 < full.epochs_trained == 9 * 6
    finished = [t for t in halving.trials if t.status == "ok"]
    assert len(finished) == 1 and sum(t.status == "pruned" for t in halving.trials) == 8
    winner = finished[0]
    # Continued from its checkpoints, the survivor is bit for bit the trial the grid trained in one go.
    assert same_trials([winner], [full.trials[winner.index]])
    assert winner.best_val_acc == best_trial(full.trials).best_val_acc
    pruned = next(t for t in halving.trials if t.status == "pruned")
    assert pruned.epochs < 6 and pruned.params is None
    # Halving reuses checkpoints and finished trials: a grid run after it retrains only the pruned ones.
    grid_after = run_search(search_params(grid, base, executor="serial"), data, store=TrialStore(tmp_path))
    assert grid_after.from_store == 1 and same_trials(grid_after.trials, full.trials)
    resumed = [t for t in grid_after.trials if t.status == "ok" and not t.from_store]
    assert any(t.epochs_trained < 6 for t in resumed)  # continued from the rung checkpoints


def test_random_search_is_seeded_and_within_ranges():
    settings = {"strategy": "random", "executor": "serial",
                "random": {"trials": 4, "seed": 3, "ranges": {"lr": [0.01, 1.0], "hidden_dim": [4, 12]}}}
    p = search_params({"lr": [0.1]}, **settings)
    configs = p.trials()
    assert configs == search_params({"lr": [0.1]}, **settings).trials()
    assert len(configs) == 4 and all(0.01 <= c.lr <= 1.0 and 4 <= c.hidden_dim <= 12 for c in configs)
    assert len({c.lr for c in configs}) == 4
    other = search_params({"lr": [0.1]}, **{**settings, "random": {**settings["random"], "seed": 4}}).trials()
    assert [c.lr for c in other] != [c.lr for c in configs]
    result = run_search(p, small_data())
    assert list(result.trials[0].overrides)[:3] == ["lr", "hidden_dim", "reg"]


def test_diverged_trial_is_recorded_stored_and_never_best(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (50, 784), dtype=np.uint8), rng.integers(0, 10, 50).astype(np.uint8)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    p = search_params({"lr": [1e6, 1e-3]}, {"input_scaling": "raw", "weight_scale": 1.0, "hidden_dim": 100,
                                            "batch_size": 25, "num_epochs": 3}, executor="serial")
    with np.errstate(all="ignore"):
        trials = run_search(p, data, store=TrialStore(tmp_path)).trials
        again = run_search(p, data, store=TrialStore(tmp_path))
    assert trials[0].status == "diverged" and trials[0].best_val_acc is None and trials[0].params is None
    assert "learning rate 1e+06" in trials[0].error and again.trials[0].status == "diverged" and again.from_store == 2
    assert best_trial(trials).index == 1
