"""The plot stage's figures, composed from the other stages' outputs (CSV tables, models, test split).

The search results CSV is validated here, where it is read; the plotting functions trust what they get.
Titles name the run each figure shows, from the training config saved in the model files.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.nn.augment import AugmentConfig
from pipeline.plotting.augmentation import plot_model_augmentation, trained_augmentation
from pipeline.plotting.confusion import FIGSIZE_CONFUSION, plot_confusion_matrix
from pipeline.plotting.curves import FIGSIZE_TRAINING, plot_training_curves
from pipeline.plotting.misclassified import misclassified_figsize, plot_misclassified
from pipeline.plotting.search import plot_search_results, search_figsize
from pipeline.plotting.weights import FIGSIZE_W1, FIGSIZE_W2, plot_w1_tiles, plot_w2_tiles
from pipeline.data.split import load_prepared
from pipeline.errors import InputFileError
from pipeline.evaluate import confusion_matrix
from pipeline.common.fileio import read_csv_columns
from pipeline.common.params import integer, param
from pipeline.persistence import load_model
from pipeline.plotting.titles import run_settings, title
from pipeline.training import TrainParams

FIGURES = ("training_curves", "w1_tiles", "w2_tiles", "confusion_best", "misclassified_best", "search_results")
_DEFAULTS = dataclasses.asdict(TrainParams())


@dataclass(frozen=True)
class PlotParams:
    """params.yaml:plot."""

    max_misclassified: int = param(integer(1, 400), 36, "misclassified test digits shown (at most)")


def _floats(column: list[str]) -> np.ndarray:
    return np.array([float(v) if v else np.nan for v in column])


def _parse(kind: Callable[[str], Any], ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        v = kind(raw)
        if not ok(v):
            raise ValueError(raw)
        return v
    return parse


# The search table's columns the figure needs: how to read each and what is allowed.
_COLUMNS: dict[str, tuple[Callable[[str], Any], str]] = {
    "lr": (_parse(float, lambda v: math.isfinite(v) and v > 0), "a finite number > 0"),
    "hidden_dim": (_parse(int, lambda v: v >= 1), "an integer >= 1"),
    "reg": (_parse(float, lambda v: math.isfinite(v) and v >= 0), "a finite number >= 0"),
    "status": (_parse(str, lambda v: v in ("ok", "diverged")), "ok or diverged"),
}
_ACC = _parse(float, lambda v: 0.0 <= v <= 1.0)


def read_search_results(path: str | Path, fixed: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The search results table as a list of trials, every value the figure uses checked.

    Each row is a dict of its cells (strings) with ``lr`` (float), ``hidden_dim`` (int), ``reg``
    (float), ``status`` ("ok" or "diverged") and ``best_val_acc`` (a fraction; None when diverged)
    converted. A search whose grid does not vary lr, hidden_dim or reg has no such column: its value
    comes from `fixed` (the search's shared settings). Raises ValueError naming the file, line and
    column of the first bad cell.
    """
    cols = read_csv_columns(path)
    fixed = fixed or {}
    missing = [k for k in (*_COLUMNS, "best_val_acc") if k not in cols and k not in fixed]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; re-run the search stage")
    n = len(cols["status"])
    if n == 0:
        raise ValueError(f"{path}: no trials; re-run the search stage")
    rows = []
    for i in range(n):
        line = i + 2  # the header is line 1
        row: dict[str, Any] = {k: v[i] for k, v in cols.items()}
        for key, (parse, allowed) in _COLUMNS.items():
            if key not in cols:
                row[key] = fixed[key]
                continue
            try:
                row[key] = parse(row[key])
            except ValueError:
                raise ValueError(f"{path}:{line}: {key} = {row[key]!r} is not allowed: expected {allowed}") from None
        raw = row["best_val_acc"]
        if row["status"] == "diverged":
            row["best_val_acc"] = None
        else:
            try:
                row["best_val_acc"] = _ACC(raw)
            except ValueError:
                raise ValueError(f"{path}:{line}: best_val_acc = {raw!r} is not allowed: expected a fraction "
                                 "in [0, 1] for an ok trial") from None
        rows.append(row)
    return rows


def _run_config(meta: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """The training config a model file records (older files: what the model itself knows)."""
    config = meta.get("train_config")
    if isinstance(config, Mapping):
        return dict(config)
    return {"hidden_dim": model.hidden_dim, "reg": model.reg}


def model_augmentation(model_path: str | Path) -> AugmentConfig | None:
    """The augmentation the model file at `model_path` was trained with, or None (then no figure is drawn)."""
    model, meta = load_model(model_path)
    return trained_augmentation(_run_config(meta, model), f"{model_path}: train_config")


def make_augmentation_figure(config: AugmentConfig, test_split: str | Path, path: str | Path) -> Path:
    """The augmentation figure for `config`, drawn on digits of the test split."""
    images, labels = load_prepared(test_split)
    return plot_model_augmentation(config, images, labels, path)


def make_figures(
    out_dir: str | Path,
    train_plots: str | Path,
    train_model: str | Path,
    best_model: str | Path,
    confusion_csv: str | Path,
    test_split: str | Path,
    search_results: str | Path,
    params: PlotParams,
) -> list[Path]:
    """Render every figure of FIGURES into `out_dir` as PNG; returns the paths written.

    `train_model` (the train stage's model) and `best_model` (the search's) are read for their
    training configs, which the titles name.
    """
    out = Path(out_dir)
    paths = {name: out / f"{name}.png" for name in FIGURES}
    epochs = read_csv_columns(Path(train_plots) / "epochs.csv")
    iterations = read_csv_columns(Path(train_plots) / "iterations.csv")
    trained, trained_meta = load_model(train_model)
    train_run = run_settings(_run_config(trained_meta, trained), _DEFAULTS)
    plot_training_curves(_floats(iterations["loss"]), _floats(epochs["train_acc"]), _floats(epochs["val_acc"]),
                               paths["training_curves"],
                               title=title("train stage: loss and accuracy", train_run, FIGSIZE_TRAINING[0]))

    model, meta = load_model(best_model)
    best_config = _run_config(meta, model)
    best_run = run_settings(best_config, _DEFAULTS)
    plot_w1_tiles(model.params["W1"], paths["w1_tiles"],
                        title=title("W1 of the search's best model", best_run, FIGSIZE_W1[0]))
    plot_w2_tiles(model.params["W2"], paths["w2_tiles"],
                        title=title("W2 of the search's best model", best_run, FIGSIZE_W2[0]))
    conf = read_csv_columns(confusion_csv)
    actual = np.array(conf["actual"], dtype=np.int64)
    predicted = np.array(conf["predicted"], dtype=np.int64)
    plot_confusion_matrix(confusion_matrix(actual, predicted, model.num_classes), paths["confusion_best"],
                                title=title("Test confusion matrix, search's best model", best_run,
                                            FIGSIZE_CONFUSION[0]))
    images, labels = load_prepared(test_split)
    if labels.shape[0] != actual.shape[0] or not np.array_equal(labels, actual):
        raise InputFileError(f"{confusion_csv}: its 'actual' column does not match {test_split}; re-run evaluate")
    wrong = np.flatnonzero(actual != predicted)
    shown = min(wrong.size, params.max_misclassified)
    plot_misclassified(images[wrong], actual[wrong], predicted[wrong], paths["misclassified_best"],
                             max_images=params.max_misclassified,
                             title=title("Misclassified test digits, search's best model", best_run,
                                         misclassified_figsize(shown)[0]))

    trials = read_search_results(search_results, fixed=best_config)
    grid = [k for k in read_csv_columns(search_results) if k in _DEFAULTS]  # the table's columns, in grid order
    shared = run_settings(best_config, _DEFAULTS, skip=grid)
    summary = f"{len(trials)} trials over {' × '.join(grid)}" + (f"; each {shared}" if shared else "")
    plot_search_results(trials, paths["search_results"],
                              title=title("Grid search: best validation accuracy (%)", summary,
                                          search_figsize(trials)[0]))
    return list(paths.values())
