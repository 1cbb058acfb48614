"""pipeline.nn.loop: the training loop the Solver adapts, and its state declared once (STATE)."""
from __future__ import annotations

import numpy as np
import pytest

import pipeline.nn.loop as loop
from pipeline.nn.loop import STATE, LoopSettings, TrainingLoop
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.optim import SGD, Adam
from pipeline.nn.preprocess import Preprocessor
from pipeline.nn.schedules import Exponential, Step
from pipeline.nn.solver import Solver
from support import block_images, small_data


@pytest.fixture(scope="module")
def blocks():
    return small_data(0, 120, 40)


def model(seed: int = 1, dropout: float = 0.0) -> TwoLayerNet:
    return TwoLayerNet(64, 12, 4, weight_scale=1e-2, preprocessor=Preprocessor("unit"), seed=seed, dropout=dropout)


def make_loop(data, seed: int = 1, **settings) -> TrainingLoop:
    return TrainingLoop(model(seed, dropout=0.3), data, Adam(beta1=0.8), Exponential(1e-2, 0.9),
                        LoopSettings(batch_size=16, num_epochs=4, verbose=False, progress=False, seed=7, **settings))


def test_the_solver_is_the_loop_configured_by_keywords(blocks):
    direct = make_loop(blocks).train()
    solver = Solver(model(dropout=0.3), blocks, update_rule="adam", optim_config={"learning_rate": 1e-2, "beta1": 0.8},
                    lr_decay=0.9, batch_size=16, num_epochs=4, verbose=False, progress=False, seed=7).train()
    assert isinstance(solver, TrainingLoop)
    assert solver.loss_history == direct.loss_history and solver.val_acc_history == direct.val_acc_history
    for k, v in direct.model.params.items():
        assert np.array_equal(solver.model.params[k], v)


def test_solver_refuses_unknown_keywords_by_name(blocks):
    with pytest.raises(TypeError, match="unexpected keyword argument.*'num_epoch'"):
        Solver(model(), blocks, num_epoch=3)
    with pytest.raises(ValueError, match="Solver num_epochs = 0: expected an integer >= 1"):
        LoopSettings(num_epochs=0)


def test_every_saved_array_is_declared_in_state(blocks):
    state = make_loop(blocks).train(until_epoch=2).state_dict()
    declared = {key for key, _, _ in STATE}
    assert all(k in declared or k.split("/")[0] in declared or k.rsplit("/", 1)[0] in declared for k in state), \
        sorted(state)
    assert {"params/W1", "best/W1", "optim/W1/m", "rng/dropout", "history/lr", "stopped_early"} <= set(state)
    kinds = {kind for _, kind, _ in STATE}
    assert kinds == {"arrays", "optimizer", "generator", "per_iteration", "per_epoch", "per_measure",
                     "float", "int", "bool"}


def test_a_state_entry_added_in_one_line_is_saved_restored_and_checked(blocks, monkeypatch):
    monkeypatch.setattr(loop, "STATE", STATE + (("history/grad_norm", "per_epoch", "grad_norm_history"),))

    def with_history(data, seed=1):
        run = make_loop(data, seed)
        run.grad_norm_history = []
        return run

    first = with_history(blocks).train(until_epoch=2)
    first.grad_norm_history = [0.5, 0.25]
    state = first.state_dict()
    assert state["history/grad_norm"].tolist() == [0.5, 0.25]
    resumed = with_history(blocks, seed=9)
    resumed.load_state_dict(state)
    assert resumed.grad_norm_history == [0.5, 0.25] and resumed.epoch == 2
    with pytest.raises(ValueError, match=r"'history/grad_norm' has shape \(3,\), expected \(2,\)"):
        with_history(blocks).load_state_dict({**state, "history/grad_norm": np.zeros(3)})


def test_keep_last_ends_with_the_final_epoch_and_keep_best_with_the_best(blocks):
    """A learning rate 100 times larger from epoch 3 on spoils the model: the best epoch is an early one."""
    runs = {}
    for keep in ("best", "last"):
        run = TrainingLoop(model(), blocks, SGD(), Step(0.5, step_size=3, gamma=100.0),
                           LoopSettings(batch_size=20, num_epochs=12, verbose=False, progress=False, patience=2,
                                        keep=keep))
        with np.errstate(all="ignore"):
            runs[keep] = run.train()
    best, last = runs["best"], runs["last"]
    assert best.loss_history == last.loss_history and best.val_acc_history == last.val_acc_history
    assert last.best_epoch < last.epoch and last.val_acc_history[-1] < last.best_val_acc
    X_val, y_val = blocks["X_val"], blocks["y_val"]
    assert last.check_accuracy(X_val, y_val) == last.val_acc_history[-1]
    assert best.check_accuracy(X_val, y_val) == best.best_val_acc
    for k, w in best.model.params.items():
        np.testing.assert_array_equal(w, last.best_params[k])  # both tracked the same best epoch
    assert any(not np.array_equal(w, last.best_params[k]) for k, w in last.model.params.items())


def test_keep_names_best_or_last():
    assert LoopSettings().keep == "best"
    with pytest.raises(ValueError, match="keep 'first' is not allowed: expected one of best, last"):
        LoopSettings(keep="first")
