"""The training loop: minibatches, an optimizer object, a schedule object, the best parameters kept.

`TrainingLoop(model, data, optimizer, schedule, LoopSettings(...))` is the core that both the
params.yaml path (pipeline.training) and the assignment's `Solver` (pipeline.nn.solver) run. Its
pausable state is declared once, in STATE, and walked by `state_dict` and `load_state_dict`.
"""
from __future__ import annotations

import inspect
import json
import math
import os
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from pipeline.errors import PipelineError
from pipeline.nn.batches import Augment, BatchFeed
from pipeline.nn.checkpoint import save_checkpoint
from pipeline.nn.npz import save_npz
from pipeline.nn.optim import Optimizer, checked_array

Schedule = Callable[[int], float]
DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
KEEP = ("best", "last")  # LoopSettings.keep: which parameters a finished run leaves in the model


class TrainingDiverged(PipelineError, RuntimeError):
    """The loss became NaN or infinite; says at which iteration and with which learning rate."""

    def __init__(self, iteration: int, lr: float, loss: float) -> None:
        self.iteration, self.lr, self.loss = iteration, lr, loss
        super().__init__(
            f"training diverged: loss {loss} at iteration {iteration} with learning rate {lr:g}; "
            "lower the learning rate (or weight_scale), or scale the inputs"
        )


@dataclass(frozen=True)
class LoopSettings:
    """How a TrainingLoop runs, apart from the update itself (the optimizer and the schedule).

    num_train_samples / num_val_samples measure accuracy on the first N images only (a fixed subsample,
    so the curves compare across epochs); eval_batch_size is rows per forward pass when measuring it.
    checkpoint_name writes '<name>_epoch_<e>.npz' after each epoch; save_model writes the final
    parameters as .npz. progress: a tqdm bar (None: when verbose and stderr is a terminal). patience
    stops early after that many epochs without a better validation accuracy (None: never). keep: the
    parameters a finished run leaves in the model (and saves): "best" those of the epoch with the best
    validation accuracy, "last" those of the final epoch trained. prefetch: prepare the next minibatch
    (gather, augment, convert) in a background thread while the current one trains; the parameters
    are the same either way. It pays off only when the BLAS leaves a core idle (one BLAS thread on
    two cores); with a BLAS thread per core the step's GEMMs wait for the busy core instead.
    """

    batch_size: int = 200
    num_epochs: int = 10
    seed: int = 0
    num_train_samples: int | None = None
    num_val_samples: int | None = None
    eval_batch_size: int = 10000
    patience: int | None = None
    checkpoint_name: str | None = None
    save_model: str | os.PathLike | None = None
    print_every: int = 100
    verbose: bool = True
    progress: bool | None = None
    keep: str = "best"
    prefetch: bool = False

    def __post_init__(self) -> None:
        for name in ("batch_size", "num_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Solver {name} = {value!r}: expected an integer >= 1")
        if self.patience is not None and int(self.patience) < 1:
            raise ValueError(f"patience {self.patience!r} must be a positive number of epochs (or None)")
        if self.keep not in KEEP:
            raise ValueError(f"keep {self.keep!r} is not allowed: expected one of {', '.join(KEEP)}")


# What a paused run carries over: (key in state_dict, kind, attribute of the loop). One line per item.
# Kinds: "arrays" a dict of arrays saved as '<key>/<name>' (shaped like the model's parameters);
# "optimizer" the optimizer's own state_dict under '<key>/'; "generator" a numpy Generator's state as
# JSON (an attribute that is None is not saved); "per_iteration", "per_epoch", "per_measure" float
# histories (one entry per iteration, per epoch trained, per accuracy measurement); "float", "int",
# "bool" scalars.
STATE: tuple[tuple[str, str, str], ...] = (
    ("params", "arrays", "model.params"),
    ("best", "arrays", "best_params"),
    ("optim", "optimizer", "optimizer"),
    ("rng/shuffle", "generator", "rng"),
    ("rng/augment", "generator", "augment_rng"),
    ("rng/dropout", "generator", "model.dropout_rng"),
    ("history/loss", "per_iteration", "loss_history"),
    ("history/train_acc", "per_measure", "train_acc_history"),
    ("history/val_acc", "per_measure", "val_acc_history"),
    ("history/lr", "per_epoch", "lr_history"),
    ("best_val_acc", "float", "best_val_acc"),
    ("best_epoch", "int", "best_epoch"),
    ("epoch", "int", "epoch"),
    ("stopped_early", "bool", "stopped_early"),
)
_SCALARS = {"float": (np.float64, float), "int": (np.int64, int), "bool": (np.bool_, bool)}


class TrainingLoop:
    """Minibatch training of `model` on `data` with an optimizer and a learning-rate schedule.

    `model` is any object with a `params` dict of float arrays and `loss(X, y=None)` returning scores,
    or `(loss, grads)` with grads keyed like params; `data` holds X_train, y_train, X_val, y_val (other
    keys are ignored). Each epoch visits a fresh seeded permutation of the training set in `batch_size`
    minibatches (N // batch_size of them, the remainder dropped as in the assignment). Train and
    validation accuracy are measured before training (epoch 0) and after every epoch; at the end the
    model holds the parameters with the best validation accuracy (settings.keep "best") or those of
    the last epoch trained ("last"). best_val_acc and best_epoch are tracked either way.

    Fast path: uint8 images with a model that has a `preprocessor` (our TwoLayerNet) are converted
    per batch into a reused buffer, and gradients go into reused arrays when `loss` takes
    `grads_out`. Float images are given to the model as they are.

    `augment(batch, rng) -> batch`, if given, is applied to each minibatch before preprocessing, with
    its own generator seeded from (seed, "augment"). Minibatches come from pipeline.nn.batches, which
    can prepare the next one in a background thread (settings.prefetch).

    Training can pause and continue: `train(until_epoch=k)` stops after epoch k (`epoch` counts the
    epochs done), `state_dict()`/`load_state_dict()` carry everything that determines the rest of the
    run (STATE), and a later `train()` continues to `num_epochs` bit-identically to an uninterrupted run.

    Histories are lists that grow as training runs: loss_history (per iteration), train_acc_history
    and val_acc_history (epoch 0, then one per epoch), lr_history (per epoch).
    """

    def __init__(self, model: Any, data: dict[str, np.ndarray], optimizer: Optimizer, schedule: Schedule,
                 settings: LoopSettings = LoopSettings(), augment: Augment | None = None,
                 log: Callable[[str], None] = print) -> None:
        missing = [k for k in DATA_KEYS if k not in data]
        if missing:
            raise ValueError(f"Solver data lacks {', '.join(missing)}; expected a dict with {', '.join(DATA_KEYS)}")
        for part in ("train", "val"):
            n_x, n_y = len(data[f"X_{part}"]), len(data[f"y_{part}"])
            if n_x == 0 or n_x != n_y:
                raise ValueError(f"Solver data: X_{part} has {n_x} rows and y_{part} {n_y}; "
                                 "expected the same number, at least one")
        if getattr(schedule, "num_epochs", settings.num_epochs) != settings.num_epochs:
            raise ValueError(f"Solver: the schedule spans {schedule.num_epochs} epochs but num_epochs is "
                             f"{settings.num_epochs}; build it with the same num_epochs")
        self.model, self.data, self.optimizer, self.schedule = model, data, optimizer, schedule
        self.settings, self.augment, self.log = settings, augment, log
        n = data["X_train"].shape[0]
        self.batch_size = min(int(settings.batch_size), n)
        self.num_epochs = int(settings.num_epochs)
        self.iterations_per_epoch = max(n // self.batch_size, 1)
        self.patience = None if settings.patience is None else int(settings.patience)
        self.verbose = settings.verbose
        self.progress = (settings.verbose and sys.stderr.isatty()) if settings.progress is None else settings.progress
        self.rng = np.random.default_rng(settings.seed)
        self.augment_rng = np.random.default_rng([settings.seed, zlib.crc32(b"augment")])
        self.epoch = 0
        self.stopped_early = False
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.lr_history: list[float] = []
        self.best_val_acc, self.best_epoch = -1.0, -1
        self.best_params: dict[str, np.ndarray] = {}

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
        d, s = self.data, self.settings
        train_acc = self.check_accuracy(d["X_train"], d["y_train"], s.num_train_samples, s.eval_batch_size)
        val_acc = self.check_accuracy(d["X_val"], d["y_val"], s.num_val_samples, s.eval_batch_size)
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

    def train(self, until_epoch: int | None = None) -> "TrainingLoop":
        """Train from `self.epoch` up to `until_epoch` (default: `num_epochs`).

        Reaching `num_epochs` (or stopping early) leaves the parameters `settings.keep` names in the
        model; pausing earlier leaves the current ones, so that training can continue.
        """
        until = self.num_epochs if until_epoch is None else int(until_epoch)
        if not self.epoch <= until <= self.num_epochs:
            raise ValueError(f"until_epoch {until_epoch!r} must lie between the epochs done ({self.epoch}) "
                             f"and num_epochs ({self.num_epochs})")
        if self.stopped_early:
            return self
        model, X, y = self.model, self.data["X_train"], self.data["y_train"]
        total = self.iterations_per_epoch * self.num_epochs
        preprocessor = getattr(model, "preprocessor", None) if X.dtype == np.uint8 else None
        feed = BatchFeed(X, y, self.batch_size, preprocessor=preprocessor, dtype=getattr(model, "dtype", np.float32),
                         augment=self.augment, ahead=self.settings.prefetch)
        reuse_grads = "grads_out" in inspect.signature(model.loss).parameters
        grads = {k: np.empty_like(v) for k, v in model.params.items()} if reuse_grads else None
        it = len(self.loss_history)
        bar = tqdm(total=total, initial=it, desc="train", unit="it", disable=not self.progress, dynamic_ncols=True)
        if self.epoch == 0 and not self.val_acc_history:
            self._check_accuracy(0)
        with feed:
            self._train_epochs(until, feed, grads, bar, it)
        bar.close()
        if self.epoch == self.num_epochs or self.stopped_early:
            if self.settings.keep == "best":
                self._restore_best()
            if self.settings.save_model is not None:
                save_npz(self.settings.save_model, self.model.params)
        return self

    def _train_epochs(self, until: int, feed: BatchFeed, grads: dict[str, np.ndarray] | None, bar: Any,
                      it: int) -> None:
        model, n = self.model, self.data["X_train"].shape[0]
        per_epoch, print_every, total = self.iterations_per_epoch, self.settings.print_every, bar.total
        for epoch in range(self.epoch, until):
            lr = float(self.schedule(epoch))
            self.lr_history.append(lr)
            order = self.rng.permutation(n)
            for Xb, ybuf in feed.epoch(order, per_epoch, self.augment_rng):
                loss, g = model.loss(Xb, ybuf) if grads is None else model.loss(Xb, ybuf, grads_out=grads)
                if not math.isfinite(loss):
                    bar.close()
                    raise TrainingDiverged(it + 1, lr, loss)
                self.optimizer.step(model.params, g, lr)
                self.loss_history.append(float(loss))
                it += 1
                if self.verbose and not self.progress and (it - 1) % print_every == 0:
                    self.log(f"(Iteration {it} / {total}) loss: {loss:f}")
                if self.progress and (it % 10 == 0 or it == total):
                    bar.update(it - bar.n)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}", refresh=False)
            self.epoch = epoch + 1
            self._check_accuracy(self.epoch)
            if self.settings.checkpoint_name is not None:
                self._save_checkpoint()
            if self.progress:
                bar.set_postfix(epoch=self.epoch, val_acc=f"{self.val_acc_history[-1]:.4f}", refresh=False)
            if self.patience is not None and self.epoch - self.best_epoch >= self.patience:
                self.stopped_early = True
                if self.verbose and not self.progress:
                    self.log(f"(Epoch {self.epoch} / {self.num_epochs}) stopping early: no better val_acc "
                             f"for {self.patience} epochs; best {self.best_val_acc:f} at epoch {self.best_epoch}")
                break

    def _save_checkpoint(self) -> None:
        meta = {"epoch": self.epoch, "num_epochs": self.num_epochs, "batch_size": self.batch_size,
                "optimizer": type(self.optimizer).__name__, "schedule": repr(self.schedule)}
        save_checkpoint(f"{self.settings.checkpoint_name}_epoch_{self.epoch}.npz", self, meta)

    # ------------------------------------------------------------------ pause / continue
    def _get(self, attr: str) -> Any:
        """An attribute path of STATE ('model.params'); None where the model has no such attribute."""
        obj: Any = self
        for part in attr.split("."):
            obj = getattr(obj, part, None)
        return obj

    def _set(self, attr: str, value: Any) -> None:
        owner, _, name = attr.rpartition(".")
        setattr(self._get(owner) if owner else self, name, value)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything that determines the rest of the run (STATE), as plain arrays (no object arrays).

        Generators' states are JSON in 0-d unicode arrays; a model without dropout masks has no rng/dropout.
        """
        state: dict[str, np.ndarray] = {}
        for key, kind, attr in STATE:
            value = self._get(attr)
            if kind == "arrays":
                state.update({f"{key}/{k}": v.copy() for k, v in value.items()})
            elif kind == "optimizer":
                state.update({f"{key}/{k}": v for k, v in value.state_dict().items()})
            elif kind == "generator":
                if value is not None:
                    state[key] = np.array(json.dumps(value.bit_generator.state, sort_keys=True))
            elif kind in _SCALARS:
                state[key] = np.array(value, dtype=_SCALARS[kind][0])
            else:
                state[key] = np.array(value, dtype=np.float64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a `state_dict()` into this loop, built with the same model shape and settings.

        Raises ValueError naming the first missing, unexpected or wrong-shaped array; nothing is
        changed unless the whole state is valid.
        """
        what, params = "solver state", self.model.params
        epoch = int(checked_array(state, "epoch", (), None, what))
        if not 0 <= epoch <= self.num_epochs:
            raise ValueError(f"{what}: epoch {epoch} is outside 0..num_epochs ({self.num_epochs})")
        # Accuracies: epoch 0's, then one per epoch; at epoch 0 they may not be measured yet.
        measured = epoch > 0 or np.size(state.get("history/val_acc", ())) > 0
        lengths = {"per_iteration": epoch * self.iterations_per_epoch, "per_epoch": epoch,
                   "per_measure": epoch + 1 if measured else 0}
        values: dict[str, Any] = {}
        known: set[str] = set()
        optimizer_key = ""
        for key, kind, attr in STATE:
            if kind == "arrays":
                if key != "params" and not any(k.startswith(f"{key}/") for k in state):
                    values[attr] = {}  # no best parameters before the epoch-0 accuracy is measured
                    continue
                values[attr] = {k: checked_array(state, f"{key}/{k}", w.shape, w.dtype, what).copy()
                                for k, w in params.items()}
                known |= {f"{key}/{k}" for k in params}
            elif kind == "optimizer":
                optimizer_key = key
            elif kind == "generator":
                if self._get(attr) is None:
                    continue
                raw = checked_array(state, key, (), None, what)
                try:
                    values[attr] = json.loads(str(raw[()]))
                    type(self.rng.bit_generator)(0).state = values[attr]  # validated on a throwaway generator
                except (ValueError, TypeError, KeyError) as exc:
                    raise ValueError(f"{what}: array {key!r} is not a generator state ({exc})") from exc
                known.add(key)
            elif kind in _SCALARS:
                values[attr] = _SCALARS[kind][1](checked_array(state, key, (), None, what))
                known.add(key)
            else:
                values[attr] = checked_array(state, key, (lengths[kind],), np.float64, what).tolist()
                known.add(key)
        extra = sorted(k for k in state if k not in known and not k.startswith(f"{optimizer_key}/"))
        if extra:
            raise ValueError(f"{what}: unexpected array(s) {', '.join(extra)}")
        self.optimizer.load_state_dict({k.removeprefix(f"{optimizer_key}/"): v for k, v in state.items()
                                        if k.startswith(f"{optimizer_key}/")}, params)
        for key, kind, attr in STATE:
            if attr not in values:
                continue
            if attr == "model.params":
                for k, w in params.items():
                    np.copyto(w, values[attr][k])
            elif kind == "generator":
                self._get(attr).bit_generator.state = values[attr]
            else:
                self._set(attr, values[attr])

