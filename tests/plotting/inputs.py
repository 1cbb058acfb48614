"""Seeded synthetic inputs for the plotting tests, and one drawing call per figure case."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from pipeline import plotting as P


def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def histories(num_iter: int = 300, num_epochs: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = rng()
    loss = 2.3 * np.exp(-np.arange(num_iter) / 80) + 0.1 * r.random(num_iter)
    epochs = np.arange(num_epochs + 1)
    return loss, 0.97 - 0.87 * np.exp(-epochs), 0.95 - 0.85 * np.exp(-epochs)


def confusion() -> np.ndarray:
    r = rng()
    m = r.integers(0, 8, (10, 10))
    np.fill_diagonal(m, r.integers(900, 1100, 10))
    return m


def trials() -> list[dict]:
    r = rng()
    out = []
    for reg in (0.0, 1e-3, 0.1):
        for lr in (1e-3, 1e-1):
            for hd in (32, 64):
                if lr == 1e-1 and hd == 64 and reg == 0.0:
                    out.append({"lr": lr, "hidden_dim": hd, "reg": reg, "best_val_acc": None, "status": "diverged"})
                else:
                    acc = float(0.9 + 0.08 * r.random())
                    out.append({"lr": lr, "hidden_dim": hd, "reg": reg, "best_val_acc": acc, "status": "ok"})
    return out


def misclassified(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = rng()
    return (r.integers(0, 256, (n, 784), dtype=np.uint8), r.integers(0, 10, n), r.integers(0, 10, n))


# Each case: name -> (function drawing to a path, expected figure size in inches).
CASES: dict[str, tuple[Callable[[Path], object], tuple[float, float]]] = {
    "training_curves": (lambda p: P.plot_training_curves(*histories(), p, title="run"), P.FIGSIZE_TRAINING),
    "training_curves_short": (lambda p: P.plot_training_curves([2.3], [0.1], [0.1], p), P.FIGSIZE_TRAINING),
    "w1_tiles_256": (lambda p: P.plot_w1_tiles(rng().standard_normal((784, 256)), p, title="W1"), P.FIGSIZE_W1),
    "w1_tiles_1": (lambda p: P.plot_w1_tiles(rng().standard_normal((784, 1)), p), P.FIGSIZE_W1),
    "w2_tiles_256": (lambda p: P.plot_w2_tiles(rng().standard_normal((256, 10)), p, title="W2"), P.FIGSIZE_W2),
    "w2_tiles_30": (lambda p: P.plot_w2_tiles(rng().standard_normal((30, 10)), p), P.FIGSIZE_W2),
    "confusion_matrix": (lambda p: P.plot_confusion_matrix(confusion(), p, title="test"), P.FIGSIZE_CONFUSION),
    "misclassified_36": (lambda p: P.plot_misclassified(*misclassified(50), p), P.misclassified_figsize(36)),
    "misclassified_5": (lambda p: P.plot_misclassified(*misclassified(5), p, title="x"), P.misclassified_figsize(5)),
    "misclassified_0": (lambda p: P.plot_misclassified(*misclassified(0), p), P.misclassified_figsize(0)),
    "search_results": (lambda p: P.plot_search_results(trials(), p, title="grid"), P.search_figsize(trials())),
    "search_results_tiny": (lambda p: P.plot_search_results(trials()[:2], p), P.search_figsize(trials()[:2])),
}


def assert_raises_and_writes_nothing(call: Callable[[Path], object], match: str, tmp_path: Path) -> None:
    """`call(path)` raises a ValueError matching `match` and leaves no file at `path`."""
    import pytest

    path = tmp_path / "out.png"
    with pytest.raises(ValueError, match=match):
        call(path)
    assert not path.exists()
