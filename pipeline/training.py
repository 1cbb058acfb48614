"""One training run from a validated config: build the model, train it with the Solver, summarise."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.nn.augment import AugmentConfig, make_augmenter, square_shape
from pipeline.nn.model import DTYPES, INITS, TwoLayerNet
from pipeline.nn.optim import UPDATE_RULES, optimizer_from
from pipeline.persistence import data_fingerprint, save_model
from pipeline.common.params import choice, from_mapping, integer, number, param
from pipeline.nn.preprocess import MODES, Preprocessor
from pipeline.nn.schedules import SCHEDULES, schedule_from
from pipeline.nn.solver import Solver


@dataclass(frozen=True)
class TrainParams:
    """Everything that defines a training run; the defaults are the assignment's settings."""

    hidden_dim: int = param(integer(1, 65536), 25, "hidden units")
    init: str = param(choice(*INITS), "normal", "weight init: normal (std weight_scale) or he")
    weight_scale: float = param(number(0, lo_open=True), 1e-3, "std of the initial weights; used only with init: normal")
    input_scaling: str = param(choice(*MODES), "raw", "raw 0-255, unit [0,1], unit_centered")
    dtype: str = param(choice(*DTYPES), "float32", "float32 or float64")
    update_rule: str = param(choice(*UPDATE_RULES), "sgd", "optimizer")
    lr: float = param(number(0, lo_open=True), 1e-3, "learning rate")
    momentum: float = param(number(0, 1), 0.9, "momentum coefficient; used only by momentum and nesterov")
    beta1: float = param(number(0, 1), 0.9, "Adam beta1; used only by adam")
    beta2: float = param(number(0, 1), 0.999, "Adam beta2; used only by adam")
    epsilon: float = param(number(0, lo_open=True), 1e-8, "Adam epsilon; used only by adam")
    schedule: str = param(choice(*SCHEDULES), "exponential", "learning-rate schedule")
    lr_decay: float = param(number(0, lo_open=True), 1.0, "per-epoch multiplicative decay (exponential)")
    step_size: int = param(integer(1), 5, "epochs per step (step schedule)")
    gamma: float = param(number(0, lo_open=True), 0.1, "factor per step (step schedule)")
    lr_min: float = param(number(0), 0.0, "final learning rate (cosine schedule)")
    reg: float = param(number(0), 0.0, "L2 regularization strength")
    batch_size: int = param(integer(1), 200, "minibatch size")
    num_epochs: int = param(integer(1), 10, "epochs")
    train_acc_samples: int | None = param(integer(1, none_ok=True), None, "train-accuracy subsample; null = all")
    seed: int = param(integer(0), 0, "seeds the initial weights, the minibatch order, dropout masks and augmentation")
    # Beyond the assignment (docs/recipes.md); the defaults switch them all off.
    dropout: float = param(number(0, 1), 0.0, "hidden-unit drop probability in training (inverted dropout), < 1")
    label_smoothing: float = param(number(0, 1), 0.0, "eps of the smoothed targets (1 - eps) one-hot + eps / C, < 1")
    patience: int | None = param(integer(1, none_ok=True), None,
                                 "stop after this many epochs without a better val accuracy; null = never")
    augment_shift: int = param(integer(0, 27), 0, "augmentation: largest random shift, whole pixels")
    augment_rotation: float = param(number(0, 180), 0.0, "augmentation: largest rotation, degrees")
    augment_scale: float = param(number(0, 1), 0.0, "augmentation: largest relative zoom, < 1")
    augment_shear: float = param(number(0, 80), 0.0, "augmentation: largest shear angle, degrees")
    augment_elastic_alpha: float = param(number(0), 0.0, "augmentation: elastic displacement scale, pixels")
    augment_elastic_sigma: float = param(number(0, lo_open=True), 4.0, "augmentation: elastic smoothness, pixels")

    def __post_init__(self) -> None:
        for key in ("dropout", "label_smoothing", "augment_scale"):
            if getattr(self, key) >= 1:
                raise ValueError(f"{key} = {getattr(self, key)!r} is not allowed: expected a number < 1")

    def augment_config(self) -> AugmentConfig:
        """The augmentation settings (all zero: no augmentation)."""
        return AugmentConfig(shift=self.augment_shift, rotation=self.augment_rotation, scale=self.augment_scale,
                             shear=self.augment_shear, elastic_alpha=self.augment_elastic_alpha,
                             elastic_sigma=self.augment_elastic_sigma)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "TrainParams":
        """Validated config from a params mapping; `where` names it in errors (e.g. 'params.yaml:train')."""
        return from_mapping(cls, data, where)

    def with_overrides(self, overrides: dict[str, Any], where: str) -> "TrainParams":
        """A copy with some keys replaced, validated like params.yaml."""
        return from_mapping(type(self), {**dataclasses.asdict(self), **overrides}, where)


@dataclass
class TrainResult:
    """A trained model (holding its best-validation parameters), its solver and a metrics summary."""

    model: TwoLayerNet
    solver: Solver
    seconds: float

    def metrics(self) -> dict[str, Any]:
        """Summary for metrics files; keys of training aids appear only when the aid was on."""
        s = self.solver
        extra: dict[str, Any] = {} if s.patience is None else {"stopped_early": s.stopped_early}
        return {
            "final_train_acc": s.train_acc_history[-1],
            "final_val_acc": s.val_acc_history[-1],
            "best_val_acc": s.best_val_acc,
            "best_epoch": s.best_epoch,
            "train_acc_at_best": s.train_acc_history[s.best_epoch],
            "final_loss": float(s.loss_history[-1]),
            "epochs": s.epoch,
            "iterations": len(s.loss_history),
            **extra,
        }


def build_model(config: TrainParams, train_images: np.ndarray) -> TwoLayerNet:
    """A freshly initialised network for `config`, its preprocessing fitted on `train_images`."""
    return TwoLayerNet(
        input_dim=train_images.shape[1],
        hidden_dim=config.hidden_dim,
        weight_scale=config.weight_scale,
        init=config.init,
        reg=config.reg,
        dtype=DTYPES[config.dtype],
        seed=config.seed,
        preprocessor=Preprocessor.fit(config.input_scaling, train_images),
        dropout=config.dropout,
        label_smoothing=config.label_smoothing,
    )


def augmenter(config: TrainParams, train_images: np.ndarray) -> Callable[..., np.ndarray] | None:
    """The Solver's augment hook for `config` (square images of the training set's size), or None when off."""
    aug = config.augment_config()
    return make_augmenter(aug, square_shape(train_images.shape[1])) if aug.active else None


def build_solver(
    config: TrainParams,
    data: dict[str, np.ndarray],
    verbose: bool = True,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    **hooks: Any,
) -> Solver:
    """A fresh model for `config` and its Solver, not yet trained (`hooks`: the Solver's augment, patience,
    checkpoint_name, ...). Use it to train in steps: `solver.train(until_epoch=k)`, checkpoints.

    The config's training aids are set up here: augmentation and patience as Solver hooks (unless
    `hooks` gives them).
    """
    settings = dataclasses.asdict(config)  # the optimizer and the schedule each take their keys by name
    hooks.setdefault("augment", augmenter(config, data["X_train"]))
    hooks.setdefault("patience", config.patience)
    return Solver(
        build_model(config, data["X_train"]), data,
        optimizer=optimizer_from(config.update_rule, settings),
        schedule=schedule_from(config.schedule, settings),
        batch_size=config.batch_size, num_epochs=config.num_epochs,
        num_train_samples=config.train_acc_samples,
        verbose=verbose, progress=progress, seed=config.seed, log=log, **hooks,
    )


def train(
    config: TrainParams,
    data: dict[str, np.ndarray],
    verbose: bool = True,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train a model for `config` on `data` (uint8 X_train/X_val with labels y_train/y_val)."""
    solver = build_solver(config, data, verbose=verbose, progress=progress, log=log)
    start = time.perf_counter()
    solver.train()
    return TrainResult(solver.model, solver, time.perf_counter() - start)


def save_trained(path: str | Path, model: TwoLayerNet, config: TrainParams, data: dict[str, np.ndarray],
                 best_val_acc: float) -> None:
    """Save a trained model with what made it: its config, a hash of its training data, its val accuracy."""
    save_model(path, model, {
        "train_config": recorded_config(config),
        "train_data_sha256": data_fingerprint(data["X_train"], data["y_train"]),
        "best_val_acc": best_val_acc,
    })


# Keys added beyond the assignment: recorded in model metadata only when set, so that a model trained
# with them all off has the same bytes as before they existed.
OPTIONAL_KEYS = ("dropout", "label_smoothing", "patience", "augment_shift", "augment_rotation", "augment_scale",
                 "augment_shear", "augment_elastic_alpha", "augment_elastic_sigma")


def recorded_config(config: TrainParams) -> dict[str, Any]:
    """The config as saved with a model: every key, except optional ones left at their default."""
    defaults = TrainParams()
    return {k: v for k, v in dataclasses.asdict(config).items()
            if k not in OPTIONAL_KEYS or v != getattr(defaults, k)}


def load_solver_data(prepared_dir: str | Path) -> dict[str, np.ndarray]:
    """The prepared train and validation splits as the Solver's dict (X_train, y_train, X_val, y_val)."""
    from pipeline.data.split import load_prepared

    X_train, y_train = load_prepared(Path(prepared_dir) / "train.npz")
    X_val, y_val = load_prepared(Path(prepared_dir) / "val.npz")
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def history_rows(solver: Solver) -> tuple[list[list[Any]], list[list[Any]]]:
    """Per-epoch rows (epoch, loss, train_acc, val_acc, lr) and per-iteration rows (iteration, loss).

    Epoch 0 is before training: its loss is the first minibatch's and its lr the first epoch's.
    An epoch's loss is the mean minibatch loss during it.
    """
    per_epoch = np.asarray(solver.loss_history, dtype=np.float64).reshape(solver.epoch, -1).mean(axis=1)
    epochs = [[0, float(solver.loss_history[0]), solver.train_acc_history[0], solver.val_acc_history[0],
               solver.lr_history[0]]]
    epochs += [[e + 1, float(per_epoch[e]), solver.train_acc_history[e + 1], solver.val_acc_history[e + 1],
                solver.lr_history[e]] for e in range(solver.epoch)]
    iterations = [[i + 1, float(v)] for i, v in enumerate(solver.loss_history)]
    return epochs, iterations
