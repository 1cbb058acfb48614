"""pipeline.search.strategies: halving's rungs, survivors, random sampling."""
from __future__ import annotations

from pipeline.search.strategies import keep_count, rung_epochs, survivors
from pipeline.search.trial import Trial
from support import search_params


def _trial(index: int, acc: float | None) -> Trial:
    return Trial(index, {}, "ok" if acc is not None else "diverged", acc, 1, 0.5, 2, 0.0)


def test_rungs_of_the_assignment_grid_cost_under_a_third_of_its_epochs():
    rungs = rung_epochs(min_epochs=2, eta=3, num_epochs=20, num_candidates=18)
    assert rungs == [2, 6, 18, 20]
    sizes = [18, 6, 2, 1]
    epochs = sum(n * (t - p) for n, t, p in zip(sizes, rungs, [0, *rungs]))
    assert epochs == 86 and epochs * 3 <= 18 * 20


def test_rungs_end_at_num_epochs_and_stop_at_one_survivor():
    assert rung_epochs(1, 2, 4, 2) == [1, 4]
    assert rung_epochs(5, 3, 4, 10) == [4]
    assert rung_epochs(1, 3, 100, 9) == [1, 3, 100]


def test_survivors_are_the_best_earliest_on_ties_never_diverged():
    trials = [_trial(0, 0.5), _trial(1, 0.9), _trial(2, None), _trial(3, 0.9), _trial(4, 0.7)]
    assert survivors(trials, 2) == [1, 3]
    assert survivors(trials, 3) == [1, 3, 4]
    assert survivors([_trial(0, 0.8), _trial(1, 0.8)], 1) == [0]
    assert survivors([_trial(0, None)], 1) == []
    assert keep_count(18, 3) == 6 and keep_count(2, 3) == 1 and keep_count(7, 2) == 4


def test_random_points_do_not_depend_on_the_order_ranges_are_written():
    def configs(ranges):
        return search_params({"lr": [0.1]}, strategy="random", random={"trials": 3, "ranges": ranges}).trials()

    a = configs({"lr": [1e-4, 1e-2], "hidden_dim": [10, 20]})
    b = configs({"hidden_dim": [10, 20], "lr": [1e-4, 1e-2]})
    assert a == b
    assert all(isinstance(c.hidden_dim, int) and c.lr == float(f"{c.lr:.4g}") for c in a)


def test_halving_over_random_candidates():
    p = search_params({"lr": [0.1]}, strategy="halving", halving={"candidates": "random"}, random={"trials": 5})
    assert len(p.trials()) == 5 and p.source() == "random"
