"""pipeline.solver.Solver: learning, best-parameter restore, histories, logging, divergence."""
from __future__ import annotations

import re

import numpy as np
import pytest

from pipeline.model import TwoLayerNet
from pipeline.preprocess import Preprocessor
from pipeline.solver import Solver, TrainingDiverged
from synthetic import block_images

PARAMS = ("W1", "b1", "W2", "b2")


@pytest.fixture
def blocks():
    rng = np.random.default_rng(0)
    X_train, y_train = block_images(200, rng)
    X_val, y_val = block_images(50, rng)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def small_model(dtype=np.float32, **kw):
    return TwoLayerNet(64, 16, 4, weight_scale=1e-2, preprocessor=Preprocessor("unit"), dtype=dtype, **kw)


def test_loss_falls_and_val_acc_rises(blocks):
    model = small_model()
    solver = Solver(model, blocks, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    batch_size=20, num_epochs=5, verbose=False, progress=False)
    solver.train()
    loss = np.array(solver.loss_history)
    assert isinstance(solver.loss_history, list)
    assert np.all(np.isfinite(loss))
    assert loss[-10:].mean() < 0.5 * loss[:10].mean()
    assert solver.val_acc_history[-1] > solver.val_acc_history[0]
    assert solver.best_val_acc >= 0.9
    assert all(0.0 <= a <= 1.0 for a in solver.train_acc_history + solver.val_acc_history)


def test_history_lengths(blocks):
    data = dict(blocks, X_train=blocks["X_train"][:103], y_train=blocks["y_train"][:103])
    solver = Solver(small_model(), data, optim_config={"learning_rate": 0.1}, batch_size=10, num_epochs=3,
                    verbose=False, progress=False)
    solver.train()
    assert len(solver.loss_history) == 3 * (103 // 10)
    assert len(solver.train_acc_history) == 3 + 1
    assert len(solver.val_acc_history) == 3 + 1
    assert len(solver.lr_history) == 3


def test_best_validation_parameters_are_kept(blocks):
    """Learn for 3 epochs, then a 100x learning rate wrecks the model: the epoch-2 parameters must come back."""
    model = small_model()
    snapshots: dict[int, dict[str, np.ndarray]] = {}

    def log(line: str) -> None:
        m = re.match(r"\(Epoch (\d+) / \d+\)", line)
        if m:  # logged when the accuracy of that epoch is measured: the parameters are that epoch's
            snapshots[int(m.group(1))] = {k: v.copy() for k, v in model.params.items()}

    solver = Solver(model, blocks, update_rule="sgd", optim_config={"learning_rate": 0.5},
                    schedule="step", schedule_config={"step_size": 3, "gamma": 100.0},
                    batch_size=20, num_epochs=6, verbose=True, progress=False, print_every=10**6, log=log)
    with np.errstate(all="ignore"):
        solver.train()

    history = solver.val_acc_history
    assert sorted(snapshots) == list(range(7))
    # the construction worked: the best epoch is neither the first nor the last, and the end is worse
    assert 0 < solver.best_epoch < solver.num_epochs
    assert history[-1] < solver.best_val_acc

    assert max(history) == solver.best_val_acc
    assert solver.best_epoch == int(np.argmax(history))  # the first epoch reaching the best
    best = snapshots[solver.best_epoch]
    for k in PARAMS:
        np.testing.assert_array_equal(solver.best_params[k], best[k])
        np.testing.assert_array_equal(model.params[k], best[k])
    assert not np.array_equal(model.params["W1"], snapshots[solver.num_epochs]["W1"])
    assert model.accuracy(blocks["X_val"], blocks["y_val"]) == solver.best_val_acc


def test_log_lines_when_verbose_without_progress(blocks):
    lines: list[str] = []
    data = dict(blocks, X_train=blocks["X_train"][:100], y_train=blocks["y_train"][:100])
    solver = Solver(small_model(), data, optim_config={"learning_rate": 0.1}, batch_size=10, num_epochs=3,
                    print_every=7, verbose=True, progress=False, log=lines.append)
    solver.train()
    iteration_lines = [s for s in lines if s.startswith("(Iteration")]
    epoch_lines = [s for s in lines if s.startswith("(Epoch")]
    assert len(iteration_lines) + len(epoch_lines) == len(lines)
    assert re.fullmatch(r"\(Iteration 1 / 30\) loss: \d+\.\d+", iteration_lines[0])
    # one line every print_every iterations, starting with the first
    assert [int(re.match(r"\(Iteration (\d+) /", s).group(1)) for s in iteration_lines] == [1, 8, 15, 22, 29]
    assert len(epoch_lines) == 4
    pat = r"\(Epoch (\d) / 3\) train acc: (\d\.\d+); val_acc: (\d\.\d+)"
    for epoch, line in enumerate(epoch_lines):
        m = re.fullmatch(pat, line)
        assert m, line
        assert int(m.group(1)) == epoch
        assert float(m.group(2)) == pytest.approx(solver.train_acc_history[epoch], abs=1e-6)
        assert float(m.group(3)) == pytest.approx(solver.val_acc_history[epoch], abs=1e-6)
    assert lines[0].startswith("(Epoch 0 / 3)")  # accuracy before training comes first


def test_not_verbose_logs_nothing(blocks, capsys):
    lines: list[str] = []
    solver = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=2,
                    print_every=1, verbose=False, log=lines.append)
    solver.train()
    assert lines == []
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_lr_history_follows_lr_decay(blocks):
    solver = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                    batch_size=50, num_epochs=3, verbose=False, progress=False)
    solver.train()
    assert solver.lr_history == pytest.approx([0.1, 0.05, 0.025], rel=1e-12)


def test_lr_history_with_step_and_cosine_schedules(blocks):
    step = Solver(small_model(), blocks, optim_config={"learning_rate": 0.2}, schedule="step",
                  schedule_config={"step_size": 2, "gamma": 0.5}, batch_size=100, num_epochs=4,
                  verbose=False, progress=False).train()
    assert step.lr_history == pytest.approx([0.2, 0.2, 0.1, 0.1], rel=1e-12)
    cos = Solver(small_model(), blocks, optim_config={"learning_rate": 0.2}, schedule="cosine",
                 schedule_config={"lr_min": 0.0}, batch_size=100, num_epochs=2,
                 verbose=False, progress=False).train()
    assert cos.lr_history == pytest.approx([0.2, 0.1], rel=1e-12)


def test_same_seed_same_training(blocks):
    def run(seed):
        s = Solver(small_model(seed=1), blocks, update_rule="momentum", optim_config={"learning_rate": 0.05},
                   batch_size=20, num_epochs=2, verbose=False, progress=False, seed=seed)
        s.train()
        return s

    a, b, c = run(3), run(3), run(4)
    assert a.loss_history == b.loss_history
    for k in PARAMS:
        assert a.model.params[k].tobytes() == b.model.params[k].tobytes()
    assert not np.array_equal(a.loss_history, c.loss_history)  # another minibatch order


def test_training_diverged_names_iteration_and_lr():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 50)
    model = TwoLayerNet(784, 100, 10, weight_scale=1.0, dtype=np.float32, preprocessor=Preprocessor("raw"))
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                    update_rule="sgd", optim_config={"learning_rate": 1e6},
                    batch_size=25, num_epochs=5, verbose=False, progress=False)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        solver.train()
    exc = info.value
    assert 1 <= exc.iteration <= 5 * 2
    assert exc.lr == 1e6
    assert not np.isfinite(exc.loss)
    msg = str(exc)
    assert f"iteration {exc.iteration}" in msg
    assert "1e+06" in msg
    assert isinstance(exc, RuntimeError)


def test_diverged_reports_the_scheduled_lr():
    # the learning rate in the error is the one of the epoch that diverged, not the base rate
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 50)
    model = TwoLayerNet(784, 100, 10, weight_scale=1.0, dtype=np.float32, preprocessor=Preprocessor("raw"))
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                    update_rule="sgd", optim_config={"learning_rate": 1e-12},
                    schedule="step", schedule_config={"step_size": 1, "gamma": 1e18},
                    batch_size=25, num_epochs=3, verbose=False, progress=False)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged) as info:
        solver.train()
    assert info.value.iteration > 2  # not during the first (tiny-lr) epoch of 2 iterations
    assert info.value.lr == pytest.approx(solver.lr_history[-1])
    assert info.value.lr > 1e3
    assert f"{info.value.lr:g}" in str(info.value)


def test_needs_validation_images(blocks):
    data = dict(blocks, X_val=blocks["X_val"][:0], y_val=blocks["y_val"][:0])
    with pytest.raises(ValueError):
        Solver(small_model(), data, verbose=False)


def test_batch_larger_than_training_set(blocks):
    data = dict(blocks, X_train=blocks["X_train"][:30], y_train=blocks["y_train"][:30])
    solver = Solver(small_model(), data, optim_config={"learning_rate": 0.1}, batch_size=200, num_epochs=2,
                    verbose=False, progress=False).train()
    assert len(solver.loss_history) == 2  # one full-batch iteration per epoch


def test_histories_grow_with_the_run(blocks):
    solver = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=10**9,
                    verbose=False, progress=False)  # nothing is allocated for the maximum number of epochs
    assert solver.loss_history == [] and solver.epoch == 0
    solver.train(until_epoch=2)
    assert isinstance(solver.loss_history, list) and len(solver.loss_history) == 2 * 4
    assert len(solver.val_acc_history) == 3 and solver.epoch == 2


def test_until_epoch_out_of_range(blocks):
    solver = Solver(small_model(), blocks, batch_size=50, num_epochs=3, verbose=False).train(until_epoch=2)
    for bad in (1, 4):
        with pytest.raises(ValueError, match=f"until_epoch {bad} must lie between .* \\(2\\) and num_epochs \\(3\\)"):
            solver.train(until_epoch=bad)


def test_augment_sees_uint8_batches_and_its_own_generator(blocks):
    seen: list[tuple] = []

    def augment(batch, rng):
        seen.append((batch.dtype, batch.shape, rng))
        return 255 - batch

    solver = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=2,
                    verbose=False, progress=False, seed=5, augment=augment).train()
    assert len(seen) == 2 * 4
    assert all(d == np.uint8 and s == (50, 64) and r is solver.augment_rng for d, s, r in seen)
    assert solver.augment_rng is not solver.rng
    plain = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=2,
                   verbose=False, progress=False, seed=5).train()
    assert plain.loss_history != solver.loss_history  # the network saw the inverted images
    assert plain.rng.bit_generator.state == solver.rng.bit_generator.state  # same minibatch order


def test_augment_must_keep_shape_and_dtype(blocks):
    solver = Solver(small_model(), blocks, batch_size=50, num_epochs=1, verbose=False, progress=False,
                    augment=lambda b, rng: b[:, :10])
    with pytest.raises(ValueError, match=r"augment returned shape \(50, 10\) dtype uint8; expected .*\(50, 64\) uint8"):
        solver.train()


def test_patience_stops_early_and_restores_best(blocks):
    """A learning rate multiplied by 100 after epoch 2 wrecks the model: patience 2 stops 2 epochs after the best."""
    model = small_model()
    solver = Solver(model, blocks, update_rule="sgd", optim_config={"learning_rate": 0.5},
                    schedule="step", schedule_config={"step_size": 3, "gamma": 100.0},
                    batch_size=20, num_epochs=12, verbose=False, progress=False, patience=2)
    with np.errstate(all="ignore"):
        solver.train()
    assert solver.stopped_early
    assert solver.epoch == solver.best_epoch + 2 < 12
    assert len(solver.val_acc_history) == solver.epoch + 1
    assert max(solver.val_acc_history[solver.best_epoch + 1:]) <= solver.best_val_acc
    for k in PARAMS:
        np.testing.assert_array_equal(model.params[k], solver.best_params[k])
    n = len(solver.loss_history)
    solver.train()  # a stopped run stays stopped
    assert len(solver.loss_history) == n


def test_patience_none_or_large_trains_every_epoch(blocks):
    runs = [Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=4,
                   verbose=False, progress=False, patience=p).train() for p in (None, 100)]
    assert [s.epoch for s in runs] == [4, 4] and not any(s.stopped_early for s in runs)
    assert runs[0].loss_history == runs[1].loss_history
    with pytest.raises(ValueError, match="patience 0 must be a positive"):
        Solver(small_model(), blocks, patience=0, verbose=False)
