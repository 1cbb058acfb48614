"""Hyperparameter grid search: every grid point trained, in parallel worker processes."""
from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from .params import ParamsError, from_mapping, integer, param
from .solver import TrainingDiverged
from .training import TrainConfig, TrainResult, train

GRID_KEYS = tuple(f.name for f in fields(TrainConfig) if f.name != "seed")
# Variables that cap the BLAS / OpenMP thread pools of a worker process (read when numpy loads).
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _grid_rule(where: str, value: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} = {value!r} is not allowed: expected a mapping of train keys to lists of values")
    grid = {}
    for key, values in value.items():
        if key not in GRID_KEYS:
            raise ParamsError(f"{where}.{key} is not a training key; allowed: {', '.join(GRID_KEYS)}")
        if not isinstance(values, list) or not values:
            raise ParamsError(f"{where}.{key} = {values!r} is not allowed: expected a non-empty list")
        grid[key] = tuple(values)
    return grid


def _base_rule(where: str, value: Any) -> TrainConfig:
    return TrainConfig.from_dict(value, where)


@dataclass(frozen=True)
class SearchParams:
    """params.yaml:search: the grid, the training settings shared by every trial, the worker count."""

    grid: dict[str, tuple[Any, ...]] = param(_grid_rule, doc="train keys mapped to lists of values")
    base: TrainConfig = param(_base_rule, doc="training settings shared by every trial")
    workers: int = param(integer(0), 0, "worker processes; 0 = one per CPU core")

    def trials(self, where: str = "params.yaml:search") -> list[TrainConfig]:
        """Every grid point as a validated config, in grid order (the first key varies slowest)."""
        keys = list(self.grid)
        return [self.base.with_overrides(dict(zip(keys, combo)), f"{where}.grid{dict(zip(keys, combo))}")
                for combo in itertools.product(*(self.grid[k] for k in keys))]

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "SearchParams":
        params = from_mapping(cls, data, where)
        params.trials(where)  # validate every grid value now, before any training starts
        return params


@dataclass
class Trial:
    """One grid point's outcome (params, best val acc, status) and, when it trained, its model params."""

    index: int
    overrides: dict[str, Any]
    status: str
    best_val_acc: float | None
    best_epoch: int | None
    final_train_acc: float | None
    epochs: int
    seconds: float
    error: str = ""
    params: dict[str, np.ndarray] | None = None

    def row(self) -> dict[str, Any]:
        """The trial as a table row, without the seconds (kept apart so outputs stay byte-identical)."""
        return {"trial": self.index, **self.overrides, "status": self.status, "best_val_acc": self.best_val_acc,
                "best_epoch": self.best_epoch, "final_train_acc": self.final_train_acc, "epochs": self.epochs}


_WORKER_DATA: dict[str, np.ndarray] = {}


def _init_worker(data: dict[str, np.ndarray]) -> None:
    _WORKER_DATA.clear()
    _WORKER_DATA.update(data)


def run_trial(index: int, config: TrainConfig, overrides: dict[str, Any], data: dict[str, np.ndarray]) -> Trial:
    """Train one grid point; a diverged run is recorded as such, not raised."""
    start = time.perf_counter()
    try:
        result: TrainResult = train(config, data, verbose=False, progress=False)
    except TrainingDiverged as exc:
        return Trial(index, overrides, "diverged", None, None, None, config.num_epochs,
                     time.perf_counter() - start, error=str(exc))
    s = result.solver
    return Trial(index, overrides, "ok", s.best_val_acc, s.best_epoch, s.train_acc_history[-1], config.num_epochs,
                 result.seconds, params={k: v.copy() for k, v in result.model.params.items()})


def _run_trial_in_worker(index: int, config: TrainConfig, overrides: dict[str, Any]) -> Trial:
    return run_trial(index, config, overrides, _WORKER_DATA)


@contextlib.contextmanager
def _thread_env(threads: int) -> Iterator[None]:
    # Worker processes are spawned, so they read these when they import numpy.
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: str(threads) for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def resolve_workers(requested: int, num_trials: int) -> int:
    """Worker count: `requested`, or one per CPU core when 0; never more than the trials."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or cores, num_trials))


def run_search(
    params: SearchParams,
    data: dict[str, np.ndarray],
    on_trial: Callable[[Trial], None] | None = None,
) -> list[Trial]:
    """Train every grid point and return the trials in grid order.

    Each worker runs its trials with one BLAS thread: the workers fill the cores, and a trial's
    arithmetic (so its result, bit for bit) does not depend on how many workers there are.
    `on_trial` is called as each trial finishes (in completion order), e.g. to advance a progress bar.
    """
    configs = params.trials()
    # The table always names lr, hidden_dim and reg (the assignment's axes), then any other grid key.
    keys = list(dict.fromkeys([*params.grid, "lr", "hidden_dim", "reg"]))
    overrides = [{k: getattr(c, k) for k in keys} for c in configs]
    workers = resolve_workers(params.workers, len(configs))
    results: list[Trial] = []
    ctx = multiprocessing.get_context("spawn")
    with _thread_env(1), ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                             initargs=(data,)) as pool:
        futures = [pool.submit(_run_trial_in_worker, i, c, o) for i, (c, o) in enumerate(zip(configs, overrides))]
        for fut in as_completed(futures):
            trial = fut.result()
            results.append(trial)
            if on_trial:
                on_trial(trial)
    return sorted(results, key=lambda t: t.index)


def best_trial(trials: list[Trial]) -> Trial:
    """The trial with the highest best validation accuracy (the earliest in grid order on a tie)."""
    ok = [t for t in trials if t.status == "ok"]
    if not ok:
        raise RuntimeError("every trial of the search diverged: lower search.grid.lr or search.base.weight_scale")
    return max(ok, key=lambda t: (t.best_val_acc, -t.index))
