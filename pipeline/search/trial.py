"""One trial: train a configuration up to an epoch, continuing from its checkpoint, and summarise it."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from pipeline.nn.checkpoint import load_checkpoint, save_checkpoint
from pipeline.errors import PipelineError
from pipeline.nn.loop import TrainingDiverged, TrainingLoop
from pipeline.training import TrainParams, build_solver


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run a trial: the config, the epoch to reach, where its checkpoint lives,
    and (on a Dask cluster) the SHA-256 of the training code the trial must run with."""

    index: int
    config: TrainParams
    overrides: dict[str, Any]
    until_epoch: int
    checkpoint: str | None = None
    code_sha: str | None = None


@dataclass
class Trial:
    """A trial's outcome up to `epochs` (params, best val acc, status) and, when finished, its best parameters."""

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
    train_acc: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epochs_trained: int = 0
    from_store: bool = False

    def row(self) -> dict[str, Any]:
        """The trial as a table row, without the seconds (kept apart so outputs stay byte-identical)."""
        return {"trial": self.index, **self.overrides, "status": self.status, "best_val_acc": self.best_val_acc,
                "best_epoch": self.best_epoch, "final_train_acc": self.final_train_acc, "epochs": self.epochs}

    def at_epoch(self, epoch: int) -> "Trial":
        """This trial as it stood after `epoch` epochs (from its histories), without parameters."""
        if self.status != "ok":
            return self
        val = self.val_acc[: epoch + 1]
        best = max(range(len(val)), key=lambda e: (val[e], -e))  # the first epoch reaching the maximum
        return Trial(self.index, self.overrides, "ok", val[best], best, self.train_acc[epoch], epoch, 0.0,
                     train_acc=self.train_acc[: epoch + 1], val_acc=val, from_store=self.from_store)


def _resume(task: TrialTask, data: dict[str, np.ndarray]) -> TrainingLoop:
    solver = build_solver(task.config, data, verbose=False, progress=False)
    if task.checkpoint and os.path.isfile(task.checkpoint):
        try:
            load_checkpoint(task.checkpoint, solver)
        except ValueError:  # damaged or from an incompatible solver: start over
            solver = build_solver(task.config, data, verbose=False, progress=False)
    return solver


def run_task(task: TrialTask, data: dict[str, np.ndarray]) -> Trial:
    """Train `task.config` from its last checkpoint up to `task.until_epoch`; a diverged run is recorded, not raised.

    After each epoch short of num_epochs the checkpoint is rewritten, so a killed run loses at most the
    epoch in flight. A trial that reaches num_epochs returns its best-validation parameters.
    Every trial runs with one BLAS thread, whatever the executor or the process's environment: the
    thread count changes the GEMMs' summation order, so the same trial must always get the same one.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_task(task, data)


def _run_task(task: TrialTask, data: dict[str, np.ndarray]) -> Trial:
    start = time.perf_counter()
    config = task.config
    solver = _resume(task, data)
    first = solver.epoch
    try:
        for epoch in range(solver.epoch + 1, task.until_epoch + 1):
            solver.train(until_epoch=epoch)
            if task.checkpoint and epoch < config.num_epochs:
                save_checkpoint(task.checkpoint, solver, {"trial": task.index})
    except TrainingDiverged as exc:
        return Trial(task.index, task.overrides, "diverged", None, None, None, config.num_epochs,
                     time.perf_counter() - start, error=str(exc), epochs_trained=solver.epoch + 1 - first)
    trial = Trial(task.index, task.overrides, "ok", None, None, None, config.num_epochs, 0.0,
                  train_acc=[float(a) for a in solver.train_acc_history],
                  val_acc=[float(a) for a in solver.val_acc_history])
    trial = trial.at_epoch(min(task.until_epoch, solver.epoch))
    trial.epochs_trained = max(0, solver.epoch - first)
    if solver.epoch == config.num_epochs:
        trial.params = {k: v.copy() for k, v in solver.model.params.items()}
    trial.seconds = time.perf_counter() - start
    return trial


def best_trial(trials: list[Trial]) -> Trial:
    """The finished trial with the highest best validation accuracy (the earliest in trial order on a tie)."""
    ok = [t for t in trials if t.status == "ok" and t.params is not None]
    if not ok:
        raise PipelineError("every trial of the search diverged: lower search.grid.lr or search.base.weight_scale")
    return max(ok, key=lambda t: (t.best_val_acc, -t.index))
