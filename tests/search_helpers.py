"""Shared pieces of the search tests: small learnable data and small SearchParams."""
from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.search.settings import SearchParams
from synthetic import block_images

WHERE = "params.yaml:search"


def small_data(seed: int = 0, n: int = 200, n_val: int = 60) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, y = block_images(n, rng)
    Xv, yv = block_images(n_val, rng)
    return {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}


def search_params(grid: dict, base: dict | None = None, **settings: Any) -> SearchParams:
    base = {"num_epochs": 2, "batch_size": 50, "input_scaling": "unit", "lr": 0.5, "hidden_dim": 8, **(base or {})}
    return SearchParams.from_dict({"grid": grid, "base": base, "workers": 2, **settings}, WHERE)


def same_trials(a: list, b: list) -> bool:
    """Rows, histories and best parameters all equal, bit for bit."""
    for x, y in zip(a, b, strict=True):
        if x.row() != y.row() or x.val_acc != y.val_acc or x.train_acc != y.train_acc:
            return False
        if (x.params is None) != (y.params is None):
            return False
        if x.params is not None and any(not np.array_equal(x.params[k], y.params[k]) for k in x.params):
            return False
    return True
