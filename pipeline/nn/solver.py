"""Solver: the assignment's (CS231n's) keyword interface, mapped onto the training loop (pipeline.nn.loop)."""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from pipeline.nn.loop import Augment, LoopSettings, Schedule, TrainingDiverged, TrainingLoop
from pipeline.nn.optim import Optimizer, make_optimizer
from pipeline.nn.schedules import Exponential

__all__ = ["Solver", "TrainingDiverged"]

DEFAULT_LEARNING_RATE = 1e-3  # CS231n's optim_config default


class Solver(TrainingLoop):
    """`Solver(model, data, **kwargs)` as in the assignment: a TrainingLoop configured by CS231n's keywords.

    update_rule names an optimizer ('sgd', 'sgd_momentum'/'momentum', 'nesterov', 'rmsprop', 'adam');
    optim_config holds 'learning_rate' (default 1e-3) and the rule's hyperparameters; the learning rate
    of epoch e is learning_rate * lr_decay**e. save_model: True (meaning 'best_model.npz') or a path.
    Every other keyword is a field of LoopSettings (batch_size, num_epochs, num_train_samples,
    num_val_samples, checkpoint_name, print_every, verbose, seed, progress, eval_batch_size, patience,
    keep), plus the loop's `augment` hook and `log`. Unknown keywords are refused by name (TypeError).

    Instead of update_rule/optim_config/lr_decay, ready objects can be given: `optimizer`
    (pipeline.nn.optim) and `schedule` (pipeline.nn.schedules); mixing the two ways is refused.
    """

    def __init__(
        self,
        model: Any,
        data: dict[str, np.ndarray],
        *,
        update_rule: str | None = None,
        optim_config: dict[str, Any] | None = None,
        lr_decay: float | None = None,
        optimizer: Optimizer | None = None,
        schedule: Schedule | None = None,
        save_model: bool | str | os.PathLike = False,
        augment: Augment | None = None,
        log: Callable[[str], None] = print,
        **settings: Any,
    ) -> None:
        unknown = sorted(set(settings) - set(LoopSettings.__dataclass_fields__))
        if unknown:
            raise TypeError(f"Solver got unexpected keyword argument(s) {', '.join(map(repr, unknown))}")
        loop_settings = LoopSettings(save_model="best_model.npz" if save_model is True else (save_model or None),
                                     **settings)
        optimizer, schedule = _update_objects(optimizer, schedule, update_rule, optim_config, lr_decay)
        super().__init__(model, data, optimizer, schedule, loop_settings, augment=augment, log=log)


def _update_objects(optimizer: Optimizer | None, schedule: Schedule | None, update_rule: str | None,
                    optim_config: dict[str, Any] | None, lr_decay: float | None) -> tuple[Optimizer, Schedule]:
    """The optimizer and schedule: given as objects, or built from CS231n's keywords."""
    options = dict(optim_config or {})
    if optimizer is not None and (update_rule is not None or options):
        raise ValueError("Solver: pass either optimizer= or update_rule=/optim_config=, not both")
    if schedule is not None and (lr_decay is not None or "learning_rate" in options):
        raise ValueError("Solver: pass either schedule= or learning_rate (optim_config) and lr_decay, not both")
    lr = options.pop("learning_rate", DEFAULT_LEARNING_RATE)
    if optimizer is None:
        optimizer = make_optimizer(update_rule or "sgd", **options)
    if schedule is None:
        schedule = Exponential(float(lr), 1.0 if lr_decay is None else float(lr_decay))
    return optimizer, schedule
