"""Solver: minibatch training of a model, keeping the parameters with the best validation accuracy."""
from __future__ import annotations

import inspect
import json
import math
import os
import sys
import zlib
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from pipeline.nn.checkpoint import save_checkpoint
from pipeline.errors import PipelineError
from pipeline.nn.npz import save_npz
from pipeline.nn.optim import Optimizer, checked_array, make_optimizer
from pipeline.nn.schedules import Exponential

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


class TrainingDiverged(PipelineError, RuntimeError):
    """The loss became NaN or infinite; says at which iteration and with which learning rate."""

    def __init__(self, iteration: int, lr: float, loss: float) -> None:
        self.iteration, self.lr, self.loss = iteration, lr, loss
        super().__init__(
            f"training diverged: loss {loss} at iteration {iteration} with learning rate {lr:g}; "
            "lower the learning rate (or weight_scale), or scale the inputs"
        )


class Solver:
    """Minibatch training loop with the assignment's (CS231n's) Solver interface.

    `Solver(model, data, **kwargs)`: `model` is any object with a `params` dict of float arrays and
    `loss(X, y=None)` returning scores, or `(loss, grads)` with grads keyed like params; `data` holds
    X_train, y_train, X_val, y_val (other keys, such as X_test, are ignored). Each epoch visits a
    fresh seeded permutation of the training set in `batch_size` minibatches (N // batch_size of
    them, the remainder dropped as in the assignment). Train and validation accuracy are measured
    before training (epoch 0) and after every epoch; the parameters with the best validation
    accuracy are put back in the model at the end.

    Fast path: uint8 images with a model that has a `preprocessor` (our TwoLayerNet) are converted
    per batch into a reused buffer, and gradients go into reused arrays when `loss` takes
    `grads_out`. Float images are given to the model as they are.

    How the update is made, in one of two ways (not both):
      optimizer, schedule     objects (pipeline.nn.optim, pipeline.nn.schedules): the params.yaml path;
      update_rule, optim_config, lr_decay
                              CS231n's keywords, mapped onto the same objects: update_rule names an
                              optimizer ('sgd', 'sgd_momentum'/'momentum', 'nesterov', 'rmsprop',
                              'adam'), optim_config holds 'learning_rate' (default 1e-3) and the
                              rule's hyperparameters, and the learning rate of epoch e is
                              learning_rate * lr_decay**e.
    Other settings: batch_size, num_epochs; num_train_samples / num_val_samples measure accuracy on
    the first N images only (a fixed subsample, so the curves compare across epochs); checkpoint_name
    writes '<name>_epoch_<e>.npz' checkpoints after each epoch (pipeline.nn.checkpoint, no pickle);
    save_model (True or a path; True means 'best_model.npz') writes the final parameters as .npz;
    print_every, verbose, progress (a tqdm bar; default: verbose and a terminal), log, seed
    (minibatch order), eval_batch_size (rows per forward pass when measuring accuracy).

    Training can pause and continue: `train(until_epoch=k)` stops after epoch k (`epoch` counts the
    epochs done), `state_dict()`/`load_state_dict()` carry everything that determines the rest of the
    run, and a later `train()` continues to `num_epochs` bit-identically to an uninterrupted run.

    Histories are lists that grow as training runs: loss_history (per iteration), train_acc_history
    and val_acc_history (epoch 0, then one per epoch), lr_history (per epoch).

    Optional hooks (None keeps the plain loop): `augment(batch, rng) -> batch` is applied to each
    minibatch before preprocessing, with its own generator seeded from (seed, "augment");
    `patience` stops early when validation accuracy has not improved for that many epochs
    (`stopped_early` becomes True and the best parameters are restored).
    """

    def __init__(
        self,
        model: Any,
        data: dict[str, np.ndarray],
        *,
        optimizer: Optimizer | None = None,
        schedule: Callable[[int], float] | None = None,
        update_rule: str | None = None,
        optim_config: dict[str, Any] | None = None,
        lr_decay: float | None = None,
        batch_size: int = 200,
        num_epochs: int = 10,
        num_train_samples: int | None = None,
        num_val_samples: int | None = None,
        checkpoint_name: str | None = None,
        print_every: int = 100,
        verbose: bool = True,
        save_model: bool | str | os.PathLike = False,
        seed: int = 0,
        progress: bool | None = None,
        eval_batch_size: int = 10000,
        log: Callable[[str], None] = print,
        augment: Augment | None = None,
        patience: int | None = None,
    ) -> None:
        missing = [k for k in DATA_KEYS if k not in data]
        if missing:
            raise ValueError(f"Solver data lacks {', '.join(missing)}; expected a dict with {', '.join(DATA_KEYS)}")
        for part in ("train", "val"):
            n_x, n_y = len(data[f"X_{part}"]), len(data[f"y_{part}"])
            if n_x == 0 or n_x != n_y:
                raise ValueError(f"Solver data: X_{part} has {n_x} rows and y_{part} {n_y}; "
                                 "expected the same number, at least one")
        for name, value in (("batch_size", batch_size), ("num_epochs", num_epochs)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Solver {name} = {value!r}: expected an integer >= 1")
        if patience is not None and int(patience) < 1:
            raise ValueError(f"patience {patience!r} must be a positive number of epochs (or None)")
        self.model, self.data = model, data
        self.batch_size, self.num_epochs = int(batch_size), int(num_epochs)
        self.optimizer, self.schedule = self._update_objects(optimizer, schedule, update_rule, optim_config, lr_decay)
        n = data["X_train"].shape[0]
        self.batch_size = min(self.batch_size, n)
        self.iterations_per_epoch = max(n // self.batch_size, 1)
        self.num_train_samples, self.num_val_samples = num_train_samples, num_val_samples
        self.checkpoint_name = checkpoint_name
        self.save_model = "best_model.npz" if save_model is True else (save_model or None)
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

    def _update_objects(self, optimizer: Optimizer | None, schedule: Callable[[int], float] | None,
                        update_rule: str | None, optim_config: dict[str, Any] | None,
                        lr_decay: float | None) -> tuple[Optimizer, Callable[[int], float]]:
        """The optimizer and schedule: given as objects, or built from CS231n's keywords."""
        options = dict(optim_config or {})
        if optimizer is not None and (update_rule is not None or options):
            raise ValueError("Solver: pass either optimizer= or update_rule=/optim_config=, not both")
        if schedule is not None and (lr_decay is not None or "learning_rate" in options):
            raise ValueError("Solver: pass either schedule= or learning_rate (optim_config) and lr_decay, not both")
        lr = options.pop("learning_rate", 1e-3)
        if optimizer is None:
            optimizer = make_optimizer(update_rule or "sgd", **options)
        if schedule is None:
            schedule = Exponential(float(lr), 1.0 if lr_decay is None else float(lr_decay))
        if getattr(schedule, "num_epochs", self.num_epochs) != self.num_epochs:
            raise ValueError(f"Solver: the schedule spans {schedule.num_epochs} epochs but num_epochs is "
                             f"{self.num_epochs}; build it with the same num_epochs")
        return optimizer, schedule

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None,
                       batch_size: int = 100) -> float:
        """Fraction of the first `num_samples` (default all) rows of X classified as y, in batches."""
        if num_samples is not None and num_samples < X.shape[0]:
            # The first N, not a random subsample: the same images every epoch, and no RNG consumed.
            X, y = X[:num_samples], y[:num_samples]
        model = self.model
        if X.dtype == np.uint8 and getattr(model, "preprocessor", None) is not None and hasattr(model, "accuracy"):
            return model.accuracy(X, y, batch_size)
        if X.shape[0] == 0:
            return float("nan")
        preds = np.empty(X.shape[0], dtype=np.int64)
        for start in range(0, X.shape[0], batch_size):
            scores = model.loss(X[start : start + batch_size])
            np.argmax(scores, axis=1, out=preds[start : start + scores.shape[0]])
        return float(np.mean(preds == y))

    def _check_accuracy(self, epoch: int) -> None:
        d, bs = self.data, self.eval_batch_size
        train_acc = self.check_accuracy(d["X_train"], d["y_train"], self.num_train_samples, bs)
        val_acc = self.check_accuracy(d["X_val"], d["y_val"], self.num_val_samples, bs)
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
        preprocessor = getattr(model, "preprocessor", None) if X.dtype == np.uint8 else None
        xbuf = None if preprocessor is None else np.empty((bs, *X.shape[1:]), dtype=model.dtype)
        ubuf = np.empty((bs, *X.shape[1:]), dtype=X.dtype)
        ybuf = np.empty(bs, dtype=y.dtype)
        reuse_grads = "grads_out" in inspect.signature(model.loss).parameters
        grads = {k: np.empty_like(v) for k, v in model.params.items()} if reuse_grads else None
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
                Xb = ub if preprocessor is None else preprocessor.transform(ub, out=xbuf)
                loss, g = model.loss(Xb, ybuf, grads_out=grads) if reuse_grads else model.loss(Xb, ybuf)
                if not math.isfinite(loss):
                    bar.close()
                    raise TrainingDiverged(it + 1, lr, loss)
                self.optimizer.step(model.params, g, lr)
                self.loss_history.append(float(loss))
                it += 1
                if self.verbose and not self.progress and (it - 1) % self.print_every == 0:
                    self.log(f"(Iteration {it} / {total}) loss: {loss:f}")
                if self.progress and (it % 10 == 0 or it == total):
                    bar.update(it - bar.n)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}", refresh=False)
            self.epoch = epoch + 1
            self._check_accuracy(self.epoch)
            if self.checkpoint_name is not None:
                self._save_checkpoint()
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
            if self.save_model is not None:
                save_npz(self.save_model, self.model.params)
        return self

    def _save_checkpoint(self) -> None:
        meta = {"epoch": self.epoch, "num_epochs": self.num_epochs, "batch_size": self.batch_size,
                "optimizer": type(self.optimizer).__name__, "schedule": repr(self.schedule)}
        save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.npz", self, meta)

    def _augmented(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = self.augment(batch, rng)
        if out.shape != batch.shape or out.dtype != batch.dtype:
            raise ValueError(f"augment returned shape {out.shape} dtype {out.dtype}; "
                             f"expected the minibatch's {batch.shape} {batch.dtype}")
        return out

    # ------------------------------------------------------------------ pause / continue
    def _dropout_rng(self) -> np.random.Generator | None:
        """The model's dropout-mask generator, if it has one (TwoLayerNet does; a user's model may not)."""
        return getattr(self.model, "dropout_rng", None)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything that determines the rest of the run, as plain arrays (no object arrays).

        Keys: params/<name>, best/<name>, optim/<name>/<slot>, rng/shuffle, rng/augment and, for a
        model with dropout masks, rng/dropout (the generators' states as JSON in 0-d unicode arrays), history/{loss,train_acc,val_acc,lr},
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
        if self._dropout_rng() is not None:
            state["rng/dropout"] = np.array(json.dumps(self._dropout_rng().bit_generator.state, sort_keys=True))
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
        params, what = self.model.params, "solver state"
        epoch = int(checked_array(state, "epoch", (), None, what))
        if not 0 <= epoch <= self.num_epochs:
            raise ValueError(f"{what}: epoch {epoch} is outside 0..num_epochs ({self.num_epochs})")
        # Accuracies: epoch 0's, then one per epoch; at epoch 0 they may not be measured yet.
        measured = epoch > 0 or np.size(state.get("history/val_acc", ())) > 0
        n_acc = epoch + 1 if measured else 0
        lengths = {"loss": epoch * self.iterations_per_epoch, "train_acc": n_acc, "val_acc": n_acc, "lr": epoch}
        histories = {name: checked_array(state, f"history/{name}", (n,), np.float64, what)
                     for name, n in lengths.items()}
        new_params = {k: checked_array(state, f"params/{k}", w.shape, w.dtype, what) for k, w in params.items()}
        best = {}
        if any(k.startswith("best/") for k in state):  # none before the epoch-0 accuracy is measured
            best = {k: checked_array(state, f"best/{k}", w.shape, w.dtype, what) for k, w in params.items()}
        rngs = {}
        rng_names = ("shuffle", "augment") + (("dropout",) if self._dropout_rng() is not None else ())
        for name in rng_names:
            raw = checked_array(state, f"rng/{name}", (), None, what)
            try:
                rngs[name] = json.loads(str(raw[()]))
                type(self.rng.bit_generator)(0).state = rngs[name]  # validates it on a throwaway generator
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"{what}: array 'rng/{name}' is not a generator state ({exc})") from exc
        scalars = {k: checked_array(state, k, (), None, what) for k in ("best_val_acc", "best_epoch", "stopped_early")}
        known = {f"params/{k}" for k in params} | {f"best/{k}" for k in best} | {f"history/{n}" for n in lengths} \
            | {f"rng/{name}" for name in rng_names} | {"epoch", *scalars}
        extra = sorted(k for k in state if k not in known and not k.startswith("optim/"))
        if extra:
            raise ValueError(f"{what}: unexpected array(s) {', '.join(extra)}")
        optim_state = {k.removeprefix("optim/"): v for k, v in state.items() if k.startswith("optim/")}
        self.optimizer.load_state_dict(optim_state, params)
        for k, w in params.items():
            np.copyto(w, new_params[k])
        self.best_params = {k: v.copy() for k, v in best.items()}
        self.rng.bit_generator.state = rngs["shuffle"]
        self.augment_rng.bit_generator.state = rngs["augment"]
        if "dropout" in rngs:
            self._dropout_rng().bit_generator.state = rngs["dropout"]
        for name, values in histories.items():
            setattr(self, f"{name}_history", values.tolist())
        self.best_val_acc = float(scalars["best_val_acc"])
        self.best_epoch = int(scalars["best_epoch"])
        self.stopped_early = bool(scalars["stopped_early"])
        self.epoch = epoch


_HISTORIES = ("loss", "train_acc", "val_acc", "lr")
