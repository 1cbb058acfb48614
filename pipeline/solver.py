"""Solver: minibatch training of a model, keeping the parameters with the best validation accuracy."""
from __future__ import annotations

import json
import math
import sys
import zlib
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from .optim import Optimizer, checked_array, make_optimizer
from .schedules import make_schedule

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


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

    Training can pause and continue: `train(until_epoch=k)` stops after epoch k (`epoch` counts the
    epochs done), `state_dict()`/`load_state_dict()` carry everything that determines the rest of the
    run, and a later `train()` continues to `num_epochs` bit-identically to an uninterrupted run.

    Histories are lists that grow as training runs: loss_history (per iteration), train_acc_history
    and val_acc_history (epoch 0, then one per epoch), lr_history (per epoch).

    Optional hooks (None keeps the plain loop): `augment(uint8_batch, rng) -> uint8_batch` is applied
    to each minibatch before preprocessing, with its own generator seeded from (seed, "augment");
    `patience` stops early when validation accuracy has not improved for that many epochs
    (`stopped_early` becomes True and the best parameters are restored).
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
        augment: Augment | None = None,
        patience: int | None = None,
    ) -> None:
        self.model, self.data = model, data
        optim_config = dict(optim_config or {})
        self.learning_rate = float(optim_config.pop("learning_rate", 1e-3))
        self.optimizer = update_rule if isinstance(update_rule, Optimizer) else make_optimizer(update_rule, **optim_config)
        self.batch_size, self.num_epochs = int(batch_size), int(num_epochs)
        n = data["X_train"].shape[0]
        if n == 0 or data["X_val"].shape[0] == 0:
            raise ValueError("Solver needs at least one training and one validation image")
        if patience is not None and int(patience) < 1:
            raise ValueError(f"patience {patience!r} must be a positive number of epochs (or None)")
        self.batch_size = min(self.batch_size, n)
        self.iterations_per_epoch = max(n // self.batch_size, 1)
        self.schedule = make_schedule(schedule, self.learning_rate, self.num_epochs, lr_decay=lr_decay,
                                      **(schedule_config or {}))
        self.num_train_samples = num_train_samples
        self.print_every, self.verbose, self.log = print_every, verbose, log
        self.progress = (verbose and sys.stderr.isatty()) if progress is None else progress
        self.eval_batch_size = eval_batch_size
        self.augment, self.patience = augment, None if patience is None else int(patience)
        self.rng = np.random.default_rng(seed)
        self.augment_rng = np.random.default_rng([seed, zlib.crc32(b"augment")])
        self.epoch = 0
        self.stopped_early = False
        self.loss_history: list[float] = []
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

    def _restore_best(self) -> None:
        for k, v in self.best_params.items():
            self.model.params[k][...] = v

    def train(self, until_epoch: int | None = None) -> "Solver":
        """Train from `self.epoch` up to `until_epoch` (default: `num_epochs`).

        Reaching `num_epochs` (or stopping early) leaves the best-validation parameters in the
        model; pausing earlier leaves the current ones, so that training can continue.
        """
        until = self.num_epochs if until_epoch is None else int(until_epoch)
        if not self.epoch <= until <= self.num_epochs:
            raise ValueError(f"until_epoch {until_epoch!r} must lie between the epochs done ({self.epoch}) "
                             f"and num_epochs ({self.num_epochs})")
        if self.stopped_early:
            return self
        model, X, y = self.model, self.data["X_train"], self.data["y_train"]
        bs, per_epoch = self.batch_size, self.iterations_per_epoch
        total = per_epoch * self.num_epochs
        xbuf = np.empty((bs, X.shape[1]), dtype=model.dtype)
        ubuf = np.empty((bs, X.shape[1]), dtype=X.dtype)
        ybuf = np.empty(bs, dtype=y.dtype)
        grads = {k: np.empty_like(v) for k, v in model.params.items()}
        it = len(self.loss_history)
        bar = tqdm(total=total, initial=it, desc="train", unit="it", disable=not self.progress, dynamic_ncols=True)
        if self.epoch == 0 and not self.val_acc_history:
            self._check_accuracy(0)
        augment, augment_rng = self.augment, self.augment_rng
        for epoch in range(self.epoch, until):
            lr = float(self.schedule(epoch))
            self.lr_history.append(lr)
            order = self.rng.permutation(X.shape[0])
            for b in range(per_epoch):
                idx = order[b * bs : (b + 1) * bs]
                np.take(X, idx, axis=0, out=ubuf)
                np.take(y, idx, out=ybuf)
                ub = ubuf if augment is None else self._augmented(ubuf, augment_rng)
                Xb = model.preprocessor.transform(ub, out=xbuf)
                loss, _ = model.loss(Xb, ybuf, grads_out=grads)
                if not math.isfinite(loss):
                    bar.close()
                    raise TrainingDiverged(it + 1, lr, loss)
                self.optimizer.step(model.params, grads, lr)
                self.loss_history.append(loss)
                it += 1
                if self.verbose and not self.progress and (it - 1) % self.print_every == 0:
                    self.log(f"(Iteration {it} / {total}) loss: {loss:f}")
                if self.progress and (it % 10 == 0 or it == total):
                    bar.update(it - bar.n)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}", refresh=False)
            self.epoch = epoch + 1
            self._check_accuracy(self.epoch)
            if self.progress:
                bar.set_postfix(epoch=self.epoch, val_acc=f"{self.val_acc_history[-1]:.4f}", refresh=False)
            if self.patience is not None and self.epoch - self.best_epoch >= self.patience:
                self.stopped_early = True
                if self.verbose and not self.progress:
                    self.log(f"(Epoch {self.epoch} / {self.num_epochs}) stopping early: no better val_acc "
                             f"for {self.patience} epochs; best {self.best_val_acc:f} at epoch {self.best_epoch}")
                break
        bar.close()
        if self.epoch == self.num_epochs or self.stopped_early:
            self._restore_best()
        return self

    def _augmented(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = self.augment(batch, rng)
        if out.shape != batch.shape or out.dtype != batch.dtype:
            raise ValueError(f"augment returned shape {out.shape} dtype {out.dtype}; "
                             f"expected the minibatch's {batch.shape} {batch.dtype}")
        return out

    # ------------------------------------------------------------------ pause / continue
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything that determines the rest of the run, as plain arrays (no object arrays).

        Keys: params/<name>, best/<name>, optim/<name>/<slot>, rng/shuffle and rng/augment (the
        generators' states as JSON in 0-d unicode arrays), history/{loss,train_acc,val_acc,lr},
        best_val_acc, best_epoch, epoch, stopped_early.
        """
        state: dict[str, np.ndarray] = {}
        for k, v in self.model.params.items():
            state[f"params/{k}"] = v.copy()
        for k, v in self.best_params.items():
            state[f"best/{k}"] = v.copy()
        for k, v in self.optimizer.state_dict().items():
            state[f"optim/{k}"] = v
        state["rng/shuffle"] = np.array(json.dumps(self.rng.bit_generator.state, sort_keys=True))
        state["rng/augment"] = np.array(json.dumps(self.augment_rng.bit_generator.state, sort_keys=True))
        for name in _HISTORIES:
            state[f"history/{name}"] = np.array(getattr(self, f"{name}_history"), dtype=np.float64)
        state["best_val_acc"] = np.array(self.best_val_acc, dtype=np.float64)
        state["best_epoch"] = np.array(self.best_epoch, dtype=np.int64)
        state["epoch"] = np.array(self.epoch, dtype=np.int64)
        state["stopped_early"] = np.array(self.stopped_early)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a `state_dict()` into this Solver, built with the same model shape and settings.

        Raises ValueError naming the first missing, unexpected or wrong-shaped array; nothing is
        changed unless the whole state is valid.
        """
        params = self.model.params
        epoch = int(checked_array(state, "epoch", (), None, "solver state"))
        if not 0 <= epoch <= self.num_epochs:
            raise ValueError(f"solver state: epoch {epoch} is outside 0..num_epochs ({self.num_epochs})")
        # Accuracies: epoch 0's, then one per epoch; at epoch 0 they may not be measured yet.
        measured = epoch > 0 or np.size(state.get("history/val_acc", ())) > 0
        n_acc = epoch + 1 if measured else 0
        lengths = {"loss": epoch * self.iterations_per_epoch, "train_acc": n_acc, "val_acc": n_acc, "lr": epoch}
        histories = {name: checked_array(state, f"history/{name}", (n,), np.float64, "solver state")
                     for name, n in lengths.items()}
        new_params = {k: checked_array(state, f"params/{k}", w.shape, w.dtype, "solver state") for k, w in params.items()}
        has_best = any(k.startswith("best/") for k in state)
        best = {k: checked_array(state, f"best/{k}", w.shape, w.dtype, "solver state") for k, w in params.items()} if has_best else {}
        rngs = {}
        for name in ("shuffle", "augment"):
            raw = checked_array(state, f"rng/{name}", (), None, "solver state")
            try:
                rngs[name] = json.loads(str(raw[()]))
                np.random.default_rng().bit_generator.state = rngs[name]
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"solver state: array 'rng/{name}' is not a generator state ({exc})") from exc
        scalars = {k: checked_array(state, k, (), None, "solver state") for k in ("best_val_acc", "best_epoch", "stopped_early")}
        known = {f"params/{k}" for k in params} | {f"best/{k}" for k in best} | {f"history/{n}" for n in lengths} \
            | {"rng/shuffle", "rng/augment", "epoch", *scalars}
        extra = sorted(k for k in state if k not in known and not k.startswith("optim/"))
        if extra:
            raise ValueError(f"solver state: unexpected array(s) {', '.join(extra)}")
        self.optimizer.load_state_dict({k[len("optim/"):]: v for k, v in state.items() if k.startswith("optim/")},
                                       params)
        for k, w in params.items():
            np.copyto(w, new_params[k])
        self.best_params = {k: v.copy() for k, v in best.items()}
        self.rng.bit_generator.state = rngs["shuffle"]
        self.augment_rng.bit_generator.state = rngs["augment"]
        for name, values in histories.items():
            setattr(self, f"{name}_history", values.tolist())
        self.best_val_acc = float(scalars["best_val_acc"])
        self.best_epoch = int(scalars["best_epoch"])
        self.stopped_early = bool(scalars["stopped_early"])
        self.epoch = epoch


_HISTORIES = ("loss", "train_acc", "val_acc", "lr")
