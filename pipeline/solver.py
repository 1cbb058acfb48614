"""Solver: minibatch training of a model, keeping the parameters with the best validation accuracy."""
from __future__ import annotations

import math
import sys
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from .optim import Optimizer, make_optimizer
from .schedules import make_schedule


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; says at which iteration and with which learning rate."""

    def __init__(self, iteration: int, lr: float, loss: float) -> None:
        self.iteration, self.lr, self.loss = iteration, lr, loss
        super().__init__(
            f"training diverged: loss {loss} at iteration {iteration} with learning rate {lr:g}; "
            "lower the learning rate (or weight_scale), or scale the inputs"
        )


class Solver:
    """Minibatch training loop in the spirit of the assignment's Solver.

    `data` holds uint8 images and integer labels: X_train, y_train, X_val, y_val. Each epoch visits
    a fresh seeded permutation of the training set in `batch_size` minibatches (N // batch_size of
    them, the remainder dropped as in the assignment); images are preprocessed per batch into a
    reused buffer. Train and validation accuracy are measured before training (epoch 0) and after
    every epoch; the parameters with the best validation accuracy are restored at the end.

    Histories: loss_history (per iteration), train_acc_history, val_acc_history (num_epochs + 1),
    lr_history (per epoch).
    """

    def __init__(
        self,
        model: Any,
        data: dict[str, np.ndarray],
        update_rule: str | Optimizer = "sgd",
        optim_config: dict[str, Any] | None = None,
        lr_decay: float = 1.0,
        schedule: str = "exponential",
        schedule_config: dict[str, Any] | None = None,
        batch_size: int = 200,
        num_epochs: int = 10,
        num_train_samples: int | None = None,
        print_every: int = 100,
        verbose: bool = True,
        seed: int = 0,
        progress: bool | None = None,
        eval_batch_size: int = 10000,
        log: Callable[[str], None] = print,
    ) -> None:
        self.model, self.data = model, data
        optim_config = dict(optim_config or {})
        self.learning_rate = float(optim_config.pop("learning_rate", 1e-3))
        self.optimizer = update_rule if isinstance(update_rule, Optimizer) else make_optimizer(update_rule, **optim_config)
        self.batch_size, self.num_epochs = int(batch_size), int(num_epochs)
        n = data["X_train"].shape[0]
        if n == 0 or data["X_val"].shape[0] == 0:
            raise ValueError("Solver needs at least one training and one validation image")
        self.batch_size = min(self.batch_size, n)
        self.iterations_per_epoch = max(n // self.batch_size, 1)
        self.schedule = make_schedule(schedule, self.learning_rate, self.num_epochs, lr_decay=lr_decay,
                                      **(schedule_config or {}))
        self.num_train_samples = num_train_samples
        self.print_every, self.verbose, self.log = print_every, verbose, log
        self.progress = (verbose and sys.stderr.isatty()) if progress is None else progress
        self.eval_batch_size = eval_batch_size
        self.rng = np.random.default_rng(seed)
        self.loss_history = np.zeros(0)
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.lr_history: list[float] = []
        self.best_val_acc, self.best_epoch = -1.0, -1
        self.best_params: dict[str, np.ndarray] = {}

    def _train_accuracy(self) -> float:
        X, y = self.data["X_train"], self.data["y_train"]
        if self.num_train_samples is not None and self.num_train_samples < X.shape[0]:
            # A fixed subsample (the same every epoch) keeps the curve comparable across epochs.
            X, y = X[: self.num_train_samples], y[: self.num_train_samples]
        return self.model.accuracy(X, y, self.eval_batch_size)

    def _check_accuracy(self, epoch: int) -> None:
        train_acc = self._train_accuracy()
        val_acc = self.model.accuracy(self.data["X_val"], self.data["y_val"], self.eval_batch_size)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose and not self.progress:
            self.log(f"(Epoch {epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        if val_acc > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val_acc, epoch
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}

    def train(self) -> "Solver":
        """Run all epochs; leaves the best-validation parameters in the model."""
        model, X, y = self.model, self.data["X_train"], self.data["y_train"]
        bs, per_epoch = self.batch_size, self.iterations_per_epoch
        total = per_epoch * self.num_epochs
        self.loss_history = np.zeros(total)
        xbuf = np.empty((bs, X.shape[1]), dtype=model.dtype)
        ubuf = np.empty((bs, X.shape[1]), dtype=X.dtype)
        ybuf = np.empty(bs, dtype=y.dtype)
        grads = {k: np.empty_like(v) for k, v in model.params.items()}
        bar = tqdm(total=total, desc="train", unit="it", disable=not self.progress, dynamic_ncols=True)
        self._check_accuracy(0)
        it = 0
        for epoch in range(self.num_epochs):
            lr = float(self.schedule(epoch))
            self.lr_history.append(lr)
            order = self.rng.permutation(X.shape[0])
            for b in range(per_epoch):
                idx = order[b * bs : (b + 1) * bs]
                np.take(X, idx, axis=0, out=ubuf)
                np.take(y, idx, out=ybuf)
                Xb = model.preprocessor.transform(ubuf, out=xbuf)
                loss, _ = model.loss(Xb, ybuf, grads_out=grads)
                if not math.isfinite(loss):
                    bar.close()
                    raise TrainingDiverged(it + 1, lr, loss)
                self.optimizer.step(model.params, grads, lr)
                self.loss_history[it] = loss
                it += 1
                if self.verbose and not self.progress and (it - 1) % self.print_every == 0:
                    self.log(f"(Iteration {it} / {total}) loss: {loss:f}")
                if self.progress and (it % 10 == 0 or it == total):
                    bar.update(it - bar.n)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}", refresh=False)
            self._check_accuracy(epoch + 1)
            if self.progress:
                bar.set_postfix(epoch=epoch + 1, val_acc=f"{self.val_acc_history[-1]:.4f}", refresh=False)
        bar.close()
        for k, v in self.best_params.items():
            model.params[k][...] = v
        return self
