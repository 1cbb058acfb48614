"""What a finished search yields: the best model, the results table and the metrics."""
from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.nn.model import TwoLayerNet
from pipeline.search.runner import SearchResult
from pipeline.search.settings import SearchParams
from pipeline.search.trial import Trial, best_trial
from pipeline.training import TrainParams, build_model


def best_model(result: SearchResult, configs: list[TrainParams],
               data: dict[str, np.ndarray]) -> tuple[TwoLayerNet, TrainParams, Trial]:
    """The best finished trial's network (built for its config, holding its best parameters), config and trial."""
    best = best_trial(result.trials)
    config = configs[best.index]
    model = build_model(config, data["X_train"])  # the preprocessing fitted as in training
    for k, v in best.params.items():
        model.params[k][...] = v
    return model, config, best


def results_table(result: SearchResult) -> tuple[list[str], list[list[Any]]]:
    """The search results as (header, rows): one row per trial, in trial order."""
    rows = [t.row() for t in result.trials]
    header = list(rows[0])
    return header, [[r[h] for h in header] for r in rows]


def search_metrics(params: SearchParams, result: SearchResult) -> dict[str, Any]:
    """metrics/search.json: the best trial, its settings and accuracy, how many trials ran and diverged."""
    trials = result.trials
    best = best_trial(trials)
    metrics: dict[str, Any] = {
        "best_val_acc": best.best_val_acc,
        "best_trial": best.index,
        "best_params": best.overrides,
        "best_epoch": best.best_epoch,
        "trials": len(trials),
        "diverged": sum(t.status == "diverged" for t in trials),
    }
    if params.strategy != "grid":  # the grid's metrics keep the keys (and bytes) they always had
        metrics.update(strategy=params.strategy, epochs_trained=result.epochs_trained)
    return metrics
