"""pipeline.training: every TrainParams setting reaches the constructor it is declared for."""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from pipeline.nn.augment import AugmentConfig
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.optim import UPDATE_RULES, RMSprop, hyperparameters
from pipeline.nn.schedules import SCHEDULES, fields as schedule_fields
from pipeline.training import (MODEL_SETTINGS, OPTIMIZER_SETTINGS, OPTIONAL_KEYS, SCHEDULE_SETTINGS, TrainParams,
                               build_model, build_optimizer, build_schedule, build_solver, recorded_config, train)
from support import block_images, small_data

FIELDS = {f.name for f in dataclasses.fields(TrainParams)}


def _non_default(name: str) -> object:
    """A valid value for TrainParams.<name> other than its default."""
    default = getattr(TrainParams(), name)
    if name == "num_epochs":
        return 7
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise AssertionError(f"no non-default value for {name}")
    return type(default)(default / 2 if default else 0.5) if isinstance(default, float) else default + 2


@pytest.fixture(scope="module")
def data():
    return small_data(0, 100, 40)


def test_the_tables_name_every_rule_and_schedule_and_only_trainparams_fields():
    assert tuple(OPTIMIZER_SETTINGS) == UPDATE_RULES
    assert set(SCHEDULE_SETTINGS) == set(SCHEDULES)
    for names in (MODEL_SETTINGS, *OPTIMIZER_SETTINGS.values(), *SCHEDULE_SETTINGS.values()):
        assert set(names) <= FIELDS, set(names) - FIELDS


@pytest.mark.parametrize("rule", UPDATE_RULES)
def test_each_optimizer_receives_every_argument_it_takes(rule):
    # no constructor argument is left to its default, none is matched by accident
    assert set(OPTIMIZER_SETTINGS[rule]) == set(hyperparameters(rule))
    config = TrainParams(update_rule=rule, **{n: _non_default(n) for n in OPTIMIZER_SETTINGS[rule]})
    optimizer = build_optimizer(config)
    for name in OPTIMIZER_SETTINGS[rule]:
        assert getattr(optimizer, name) == getattr(config, name) != getattr(TrainParams(), name), name


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_each_schedule_receives_every_argument_it_takes(name):
    assert set(SCHEDULE_SETTINGS[name]) == set(schedule_fields(name))
    config = TrainParams(schedule=name, **{n: _non_default(n) for n in SCHEDULE_SETTINGS[name]})
    schedule = build_schedule(config)
    for key in SCHEDULE_SETTINGS[name]:
        assert getattr(schedule, key) == getattr(config, key) != getattr(TrainParams(), key), key


def test_the_model_receives_its_settings(data):
    takes = set(inspect.signature(TwoLayerNet).parameters)
    assert set(MODEL_SETTINGS) <= takes
    overrides = {"hidden_dim": 7, "weight_scale": 0.02, "init": "he", "reg": 0.25, "seed": 3, "dropout": 0.5,
                 "label_smoothing": 0.1}
    assert set(overrides) == set(MODEL_SETTINGS)
    model = build_model(TrainParams(**overrides), data["X_train"])
    assert (model.hidden_dim, model.reg, model.dropout, model.label_smoothing) == (7, 0.25, 0.5, 0.1)
    normal = build_model(TrainParams(**{**overrides, "init": "normal"}), data["X_train"])
    assert not np.allclose(model.params["W1"], normal.params["W1"])  # the init reached the model
    doubled = build_model(TrainParams(**{**overrides, "init": "normal", "weight_scale": 0.04}), data["X_train"])
    np.testing.assert_allclose(doubled.params["W1"], 2 * normal.params["W1"], rtol=1e-6)  # and weight_scale
    reseeded = build_model(TrainParams(**{**overrides, "seed": 4}), data["X_train"])
    assert not np.allclose(model.params["W1"], reseeded.params["W1"])  # and the seed


def test_augment_config_reads_every_augmentation_field():
    values = {"shift": 3, "rotation": 9.0, "scale": 0.2, "shear": 4.0, "elastic_alpha": 5.0, "elastic_sigma": 2.5}
    assert set(values) == {f.name for f in dataclasses.fields(AugmentConfig)}
    config = TrainParams(**{f"augment_{k}": v for k, v in values.items()})
    assert config.augment_config() == AugmentConfig(**values)


def test_optional_keys_are_the_settings_beyond_the_assignment():
    assert set(OPTIONAL_KEYS) == {"decay_rate", "dropout", "label_smoothing", "patience", "keep", "augment_shift",
                                  "augment_rotation", "augment_scale", "augment_shear", "augment_elastic_alpha",
                                  "augment_elastic_sigma"}
    assert not set(recorded_config(TrainParams())) & set(OPTIONAL_KEYS)
    recorded = recorded_config(TrainParams(update_rule="rmsprop", decay_rate=0.9))
    assert recorded["update_rule"] == "rmsprop" and recorded["decay_rate"] == 0.9


def test_rmsprop_is_a_train_update_rule(data):
    config = TrainParams.from_dict({"update_rule": "rmsprop", "decay_rate": 0.9, "epsilon": 1e-6, "lr": 1e-2,
                                    "hidden_dim": 16, "input_scaling": "unit", "weight_scale": 1e-2,
                                    "batch_size": 20, "num_epochs": 3}, "test")
    solver = build_solver(config, data, verbose=False)
    assert type(solver.optimizer) is RMSprop
    assert (solver.optimizer.decay_rate, solver.optimizer.epsilon) == (0.9, 1e-6)
    result = train(config, data, verbose=False)
    assert np.mean(result.solver.loss_history[-5:]) < np.mean(result.solver.loss_history[:5])
    with pytest.raises(ValueError, match="test.update_rule = 'adagrad' is not allowed: expected one of sgd, "
                                         "momentum, nesterov, rmsprop, adam"):
        TrainParams.from_dict({"update_rule": "adagrad"}, "test")


def test_keep_reaches_the_loop_and_names_the_kept_val_accuracy(data):
    config = TrainParams.from_dict({"hidden_dim": 16, "input_scaling": "unit", "weight_scale": 1e-2, "lr": 0.5,
                                    "schedule": "step", "step_size": 3, "gamma": 10.0, "batch_size": 20,
                                    "num_epochs": 6, "keep": "last"}, "test")
    assert build_solver(config, data, verbose=False).settings.keep == "last"
    last = train(config, data, verbose=False)
    best = train(dataclasses.replace(config, keep="best"), data, verbose=False)
    assert last.solver.val_acc_history == best.solver.val_acc_history
    assert last.kept_val_acc == last.solver.val_acc_history[-1]
    assert best.kept_val_acc == best.solver.best_val_acc
    assert last.solver.val_acc_history[-1] < last.solver.best_val_acc  # lr 5 from epoch 3 spoils the model
    assert recorded_config(config)["keep"] == "last" and "keep" not in recorded_config(TrainParams())
    with pytest.raises(ValueError, match="test.keep = 'latest' is not allowed: expected one of best, last"):
        TrainParams.from_dict({"keep": "latest"}, "test")
