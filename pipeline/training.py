"""One training run from a validated config: build the model, train it in the training loop, summarise."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.nn.augment import AugmentConfig, make_augmenter, square_shape
from pipeline.nn.loop import KEEP, LoopSettings, TrainingLoop
from pipeline.nn.model import DTYPES, INITS, TwoLayerNet
from pipeline.nn.optim import UPDATE_RULES, Optimizer, make_optimizer
from pipeline.persistence import data_fingerprint, save_model
from pipeline.common.params import choice, from_mapping, integer, is_assignment, number, param
from pipeline.nn.preprocess import MODES, Preprocessor
from pipeline.nn.schedules import SCHEDULES, Schedule, make_schedule


AUGMENT_PREFIX = "augment_"  # TrainParams field augment_<name> is AugmentConfig's <name>


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
    epsilon: float = param(number(0, lo_open=True), 1e-8, "added to the denominator; used only by adam and rmsprop")
    decay_rate: float = param(number(0, 1), 0.99, "decay of the squared-gradient average; used only by rmsprop",
                              assignment=False)
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
    # assignment=False: recorded in a model's metadata only when set (OPTIONAL_KEYS).
    dropout: float = param(number(0, 1), 0.0, "hidden-unit drop probability in training (inverted dropout), < 1",
                           assignment=False)
    label_smoothing: float = param(number(0, 1), 0.0, "eps of the smoothed targets (1 - eps) one-hot + eps / C, < 1",
                                   assignment=False)
    patience: int | None = param(integer(1, none_ok=True), None,
                                 "stop after this many epochs without a better val accuracy; null = never",
                                 assignment=False)
    keep: str = param(choice(*KEEP), "best",
                      "parameters the run ends with: best (best val accuracy epoch) or last (final epoch)",
                      assignment=False)
    # augment_<name>: the field <name> of pipeline.nn.augment.AugmentConfig (augment_config).
    augment_shift: int = param(integer(0, 27), 0, "augmentation: largest random shift, whole pixels",
                               assignment=False)
    augment_rotation: float = param(number(0, 180), 0.0, "augmentation: largest rotation, degrees",
                                    assignment=False)
    augment_scale: float = param(number(0, 1), 0.0, "augmentation: largest relative zoom, < 1", assignment=False)
    augment_shear: float = param(number(0, 80), 0.0, "augmentation: largest shear angle, degrees", assignment=False)
    augment_elastic_alpha: float = param(number(0), 0.0, "augmentation: elastic displacement scale, pixels",
                                         assignment=False)
    augment_elastic_sigma: float = param(number(0, lo_open=True), 4.0, "augmentation: elastic smoothness, pixels",
                                         assignment=False)

    def __post_init__(self) -> None:
        for key in ("dropout", "label_smoothing", "augment_scale"):
            if getattr(self, key) >= 1:
                raise ValueError(f"{key} = {getattr(self, key)!r} is not allowed: expected a number < 1")

    def augment_config(self) -> AugmentConfig:
        """The augmentation settings, from the augment_* fields (all zero: no augmentation)."""
        return AugmentConfig(**{f.name: getattr(self, AUGMENT_PREFIX + f.name)
                                for f in dataclasses.fields(AugmentConfig)})

    def settings(self, names: tuple[str, ...]) -> dict[str, Any]:
        """{name: value} of the given fields: the keyword arguments of a constructor they are declared for."""
        return {name: getattr(self, name) for name in names}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "TrainParams":
        """Validated config from a params mapping; `where` names it in errors (e.g. 'params.yaml:train')."""
        return from_mapping(cls, data, where)

    def with_overrides(self, overrides: dict[str, Any], where: str) -> "TrainParams":
        """A copy with some keys replaced, validated like params.yaml."""
        return from_mapping(type(self), {**dataclasses.asdict(self), **overrides}, where)


@dataclass
class TrainResult:
    """A trained model (holding the parameters its config's `keep` names), its solver and a metrics summary."""

    model: TwoLayerNet
    solver: TrainingLoop
    seconds: float

    @property
    def kept_val_acc(self) -> float:
        """Validation accuracy of the parameters the model holds (the best epoch's, or the last one's)."""
        s = self.solver
        return s.best_val_acc if s.settings.keep == "best" else s.val_acc_history[-1]

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


# The TrainParams fields each constructor takes as keyword arguments (argument name = field name).
# tests/test_training_settings.py checks every entry against the constructor's signature.
MODEL_SETTINGS = ("hidden_dim", "weight_scale", "init", "reg", "seed", "dropout", "label_smoothing")
OPTIMIZER_SETTINGS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum",),
    "nesterov": ("momentum",),
    "rmsprop": ("decay_rate", "epsilon"),
    "adam": ("beta1", "beta2", "epsilon"),
}
SCHEDULE_SETTINGS: dict[str, tuple[str, ...]] = {
    "exponential": ("lr", "lr_decay"),
    "cosine": ("lr", "num_epochs", "lr_min"),
    "step": ("lr", "step_size", "gamma"),
}


def build_model(config: TrainParams, train_images: np.ndarray) -> TwoLayerNet:
    """A freshly initialised network for `config`, its preprocessing fitted on `train_images`."""
    return TwoLayerNet(
        input_dim=train_images.shape[1],
        dtype=DTYPES[config.dtype],
        preprocessor=Preprocessor.fit(config.input_scaling, train_images),
        **config.settings(MODEL_SETTINGS),
    )


def build_optimizer(config: TrainParams) -> Optimizer:
    """The optimizer of `config.update_rule` with its hyperparameters from `config`."""
    return make_optimizer(config.update_rule, **config.settings(OPTIMIZER_SETTINGS[config.update_rule]))


def build_schedule(config: TrainParams) -> Schedule:
    """The learning-rate schedule of `config.schedule` with its settings from `config`."""
    return make_schedule(config.schedule, **config.settings(SCHEDULE_SETTINGS[config.schedule]))


def augmenter(config: TrainParams, train_images: np.ndarray) -> Callable[..., np.ndarray] | None:
    """The loop's augment hook for `config` (square images of the training set's size), or None when off."""
    aug = config.augment_config()
    return make_augmenter(aug, square_shape(train_images.shape[1])) if aug.active else None


def build_solver(
    config: TrainParams,
    data: dict[str, np.ndarray],
    verbose: bool = True,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    **settings: Any,
) -> TrainingLoop:
    """A fresh model for `config` and its training loop, not yet trained. Use it to train in steps:
    `solver.train(until_epoch=k)`, checkpoints.

    `settings` replaces LoopSettings fields that `config` does not give (checkpoint_name, ...) or
    overrides them (patience). Augmentation is set up here, from the config's augment_* keys.
    """
    loop_settings = LoopSettings(
        batch_size=config.batch_size, num_epochs=config.num_epochs, seed=config.seed,
        num_train_samples=config.train_acc_samples, patience=config.patience, keep=config.keep,
        verbose=verbose, progress=progress,
    )
    return TrainingLoop(
        build_model(config, data["X_train"]), data, build_optimizer(config), build_schedule(config),
        dataclasses.replace(loop_settings, **settings), augment=augmenter(config, data["X_train"]), log=log,
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


# Keys added beyond the assignment (declared with assignment=False): recorded in model metadata only
# when set, so that a model trained with them all off has the same bytes as before they existed.
OPTIONAL_KEYS = tuple(f.name for f in dataclasses.fields(TrainParams) if not is_assignment(f))


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


def history_rows(solver: TrainingLoop) -> tuple[list[list[Any]], list[list[Any]]]:
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
