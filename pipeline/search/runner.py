"""Run a search: plan the rungs, take what the trial store has, send the rest to an executor."""
from __future__ import annotations

import contextlib
import itertools
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import numpy as np

from pipeline.training import TrainParams
from pipeline.search.executors import DaskExecutor, LocalExecutor, SerialExecutor, dask_address, resolve_workers
from pipeline.search.progress import SearchProgress
from pipeline.search.settings import SearchParams
from pipeline.search.store import TrialStore, code_fingerprint, data_digest, trial_key
from pipeline.search.strategies import keep_count, rung_epochs, survivors
from pipeline.search.trial import Trial, TrialTask


class Executor(Protocol):
    name: str
    workers: int

    def run(self, tasks: list[TrialTask]) -> Iterator[Trial]: ...


@dataclass
class SearchResult:
    """Every candidate's last state in trial order, the planned epochs, and the seconds spent per trial."""

    trials: list[Trial]
    epochs_trained: int
    rungs: list[int]
    seconds: dict[int, float] = field(default_factory=dict)
    from_store: int = 0
    epochs_run: int = 0  # epochs actually trained by this run (the rest came from the store or checkpoints)


def make_executor(params: SearchParams, data: dict[str, np.ndarray], num_trials: int) -> Any:
    """The executor params.yaml:search asks for (a context manager)."""
    if params.executor == "dask":
        return DaskExecutor(data, dask_address(params.dask.address))
    if params.executor == "serial":
        return SerialExecutor(data)
    return LocalExecutor(data, resolve_workers(params.workers, num_trials))


def plan(params: SearchParams, configs: list[TrainParams]) -> list[int]:
    """Epoch target of each rung: one rung at num_epochs, or successive halving's rungs."""
    num_epochs = max(c.num_epochs for c in configs)
    if params.strategy != "halving":
        return [num_epochs]
    h = params.halving
    return rung_epochs(h.min_epochs, h.eta, num_epochs, len(configs))


def rung_sizes(params: SearchParams, configs: list[TrainParams]) -> list[int]:
    """How many candidates each rung of the plan trains (every candidate first, then the survivors)."""
    sizes = [len(configs)]
    for _ in plan(params, configs)[1:]:
        sizes.append(keep_count(sizes[-1], params.halving.eta))
    return sizes


def planned_epochs(params: SearchParams, configs: list[TrainParams]) -> int:
    """Epochs the plan trains if no trial diverges (for progress)."""
    rungs = plan(params, configs)
    return sum(n * (target - prev) for n, target, prev in zip(rung_sizes(params, configs), rungs, [0, *rungs]))


def _from_store(summary: dict[str, Any], index: int, overrides: dict[str, Any], until: int) -> Trial:
    trial = Trial(index, overrides, summary["status"], summary["best_val_acc"], summary["best_epoch"],
                  summary["final_train_acc"], summary["epochs"], 0.0, error=summary.get("error", ""),
                  train_acc=summary["train_acc"], val_acc=summary["val_acc"], from_store=True)
    if trial.status != "ok" or until >= len(trial.val_acc) - 1:
        trial.params = summary["params"] if trial.status == "ok" else None
        return trial
    return trial.at_epoch(until)


def _summary(trial: Trial) -> dict[str, Any]:
    return {"status": trial.status, "best_val_acc": trial.best_val_acc, "best_epoch": trial.best_epoch,
            "final_train_acc": trial.final_train_acc, "epochs": trial.epochs, "error": trial.error,
            "train_acc": trial.train_acc, "val_acc": trial.val_acc, "seconds": round(trial.seconds, 3)}


def run_search(params: SearchParams, data: dict[str, np.ndarray], executor: Executor | None = None,
               store: TrialStore | None = None, progress: SearchProgress | None = None) -> SearchResult:
    """Run the strategy of `params` and return every candidate's outcome in trial order.

    Trials found finished in `store` are not retrained; the others are trained by `executor` (default:
    the one params asks for) from their last checkpoint. Results never depend on the store, the
    executor or the worker count: each trial's arithmetic is the same wherever it runs.
    """
    configs = params.trials()
    keys_shown = params.table_keys()
    overrides = [{k: getattr(c, k) for k in keys_shown} for c in configs]
    rungs = plan(params, configs)
    with contextlib.ExitStack() as stack:
        if store is None and len(rungs) > 1:  # survivors continue from checkpoints: they need a place
            store = TrialStore(stack.enter_context(tempfile.TemporaryDirectory(prefix="search-store-")))
        if executor is None:
            executor = stack.enter_context(make_executor(params, data, len(configs)))
        keys = [None] * len(configs)
        if store is not None:
            data_sha, code_sha = data_digest(data), code_fingerprint()
            keys = [trial_key(c, data_sha, code_sha) for c in configs]
        return _run_rungs(params, configs, overrides, rungs, keys, executor, store, progress)


def _run_rungs(params: SearchParams, configs: list[TrainParams], overrides: list[dict[str, Any]], rungs: list[int],
               keys: list[str | None], executor: Executor, store: TrialStore | None,
               progress: SearchProgress | None) -> SearchResult:
    latest: dict[int, Trial] = {}
    seconds: dict[int, float] = {}
    active, prev, epochs_trained, from_store, epochs_run = list(range(len(configs))), 0, 0, 0, 0
    for r, target in enumerate(rungs):
        last = r == len(rungs) - 1
        until = {i: configs[i].num_epochs if last else min(target, configs[i].num_epochs) for i in active}
        epochs_trained += sum(until[i] - min(prev, until[i]) for i in active)
        tasks, done = [], []
        for i in active:
            summary = store.load(keys[i]) if store is not None else None
            if summary is not None:
                done.append(_from_store(summary, i, overrides[i], until[i]))
                from_store += 1
            else:
                tasks.append(TrialTask(i, configs[i], overrides[i], until[i],
                                       store.checkpoint_path(keys[i]) if store is not None else None))
        for trial in itertools.chain(done, executor.run(tasks)):  # as each finishes
            finished = trial.status != "ok" or trial.params is not None
            if store is not None and finished and not trial.from_store:
                store.save(keys[trial.index], _summary(trial), trial.params)
            latest[trial.index] = trial
            epochs_run += trial.epochs_trained
            seconds[trial.index] = seconds.get(trial.index, 0.0) + trial.seconds
            if progress is not None:
                progress.trial_done(trial, until[trial.index] - min(prev, until[trial.index]))
        if not last:
            active = survivors([latest[i] for i in active], keep_count(len(active), params.halving.eta))
            if progress is not None:
                progress.rung_done(r, len(rungs), target, active)
        prev = target
    for trial in latest.values():
        if trial.status == "ok" and trial.params is None:
            trial.status = "pruned"
    trials = [latest[i] for i in range(len(configs))]
    return SearchResult(trials, epochs_trained, rungs, seconds, from_store, epochs_run)
