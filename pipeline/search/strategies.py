"""Which configurations a search trains and for how long: grid, seeded random sampling, successive halving."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..training import TrainParams

if TYPE_CHECKING:
    from .settings import SearchParams
    from .trial import Trial


def random_points(params: "SearchParams", where: str) -> list[TrainParams]:
    """`params.random.trials` configurations sampled with `params.random.seed`.

    Floats are log-uniform and rounded to 4 significant digits (readable tables), integers uniform;
    keys are sampled in sorted order so the draw does not depend on the order they are written in.
    """
    rnd = params.random
    rng = np.random.default_rng(rnd.seed)
    configs = []
    for i in range(rnd.trials):
        values = {}
        for key in sorted(rnd.ranges):
            lo, hi = rnd.ranges[key]
            if isinstance(lo, int) and isinstance(hi, int) and key in ("hidden_dim", "batch_size"):
                values[key] = int(rng.integers(lo, hi + 1))
            else:
                values[key] = float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}")
        configs.append(params.base.with_overrides(values, f"{where}.random[{i}]"))
    return configs


def candidates(params: "SearchParams", where: str = "params.yaml:search") -> list[TrainParams]:
    """The configurations the strategy considers, in trial order."""
    return params.grid_points(where) if params.source() == "grid" else random_points(params, where)


def rung_epochs(min_epochs: int, eta: int, num_epochs: int, num_candidates: int) -> list[int]:
    """Epoch targets of successive halving's rungs: min_epochs * eta**r, the last one num_epochs.

    A rung trains its survivors up to its target; the rung that leaves a single survivor, or whose
    target would pass num_epochs, is the last and trains to num_epochs.
    """
    epochs, n, target = [], num_candidates, min_epochs
    while target < num_epochs and n > 1:
        epochs.append(target)
        n = max(1, math.ceil(n / eta))
        target *= eta
    return epochs + [num_epochs]


def survivors(trials: Sequence["Trial"], keep: int) -> list[int]:
    """Indices of the `keep` best trials of a rung (best val acc so far; the earlier trial on a tie), in trial order.

    A diverged trial never survives.
    """
    ok = [t for t in trials if t.status == "ok"]
    ranked = sorted(ok, key=lambda t: (-t.best_val_acc, t.index))
    return sorted(t.index for t in ranked[:keep])


def keep_count(n: int, eta: int) -> int:
    """How many of a rung's n candidates go on to the next rung."""
    return max(1, math.ceil(n / eta))
