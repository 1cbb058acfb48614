"""The plot stage's figures, composed from the other stages' outputs (CSV tables, models, test split)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import plotting
from .data.split import load_prepared
from .errors import InputFileError
from .evaluate import confusion_matrix
from .fileio import read_csv_columns
from .params import integer, param
from .persistence import load_model

FIGURES = ("training_curves", "w1_tiles", "w2_tiles", "confusion_best", "misclassified_best", "search_results")


@dataclass(frozen=True)
class PlotParams:
    """params.yaml:plot."""

    max_misclassified: int = param(integer(1, 400), 36, "misclassified test digits shown (at most)")


def _floats(column: list[str]) -> np.ndarray:
    return np.array([float(v) if v else np.nan for v in column])


def read_search_results(path: str | Path) -> list[dict[str, Any]]:
    """The search results table as a list of trials (lr, hidden_dim, reg, best_val_acc, status, ...)."""
    cols = read_csv_columns(path)
    rows = []
    for i in range(len(cols["trial"])):
        row: dict[str, Any] = {k: v[i] for k, v in cols.items()}
        for key, kind in (("lr", float), ("hidden_dim", int), ("reg", float)):
            if key in row:
                row[key] = kind(row[key])
        row["best_val_acc"] = float(row["best_val_acc"]) if row["best_val_acc"] else None
        rows.append(row)
    return rows


def make_figures(
    out_dir: str | Path,
    train_plots: str | Path,
    best_model: str | Path,
    confusion_csv: str | Path,
    test_split: str | Path,
    search_results: str | Path,
    params: PlotParams,
) -> list[Path]:
    """Render every figure of FIGURES into `out_dir` as PNG; returns the paths written."""
    out = Path(out_dir)
    paths = {name: out / f"{name}.png" for name in FIGURES}
    epochs = read_csv_columns(Path(train_plots) / "epochs.csv")
    iterations = read_csv_columns(Path(train_plots) / "iterations.csv")
    plotting.plot_training_curves(_floats(iterations["loss"]), _floats(epochs["train_acc"]),
                                  _floats(epochs["val_acc"]), paths["training_curves"],
                                  title="train stage: loss and accuracy")
    model, meta = load_model(best_model)
    label = f"best model (H={model.hidden_dim})"
    plotting.plot_w1_tiles(model.params["W1"], paths["w1_tiles"], title=f"W1 of the {label}")
    plotting.plot_w2_tiles(model.params["W2"], paths["w2_tiles"], title=f"W2 of the {label}")
    conf = read_csv_columns(confusion_csv)
    actual = np.array(conf["actual"], dtype=np.int64)
    predicted = np.array(conf["predicted"], dtype=np.int64)
    plotting.plot_confusion_matrix(confusion_matrix(actual, predicted, model.num_classes), paths["confusion_best"],
                                   title=f"Test confusion matrix, {label}")
    images, labels = load_prepared(test_split)
    if labels.shape[0] != actual.shape[0] or not np.array_equal(labels, actual):
        raise InputFileError(f"{confusion_csv}: its 'actual' column does not match {test_split}; re-run evaluate")
    wrong = np.flatnonzero(actual != predicted)
    plotting.plot_misclassified(images[wrong], actual[wrong], predicted[wrong], paths["misclassified_best"],
                                max_images=params.max_misclassified, title=f"Misclassified test digits, {label}")
    plotting.plot_search_results(read_search_results(search_results), paths["search_results"],
                                 title="Grid search: best validation accuracy (%)")
    return list(paths.values())
