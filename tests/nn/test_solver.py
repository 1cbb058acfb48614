"""pipeline.nn.solver.Solver: learning, best-parameter restore, histories, logging, divergence."""
from __future__ import annotations

import re

import numpy as np
import pytest

from pipeline.nn.model import TwoLayerNet
from pipeline.nn.checkpoint import load_checkpoint
from pipeline.nn.npz import load_npz
from pipeline.nn.optim import SGD, Adam, Momentum
from pipeline.nn.preprocess import Preprocessor
from pipeline.nn.schedules import Cosine, Exponential, Step
from pipeline.nn.solver import Solver, TrainingDiverged
from support import block_images

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

    solver = Solver(model, blocks, optimizer=SGD(), schedule=Step(0.5, step_size=3, gamma=100.0),
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
    step = Solver(small_model(), blocks, schedule=Step(0.2, step_size=2, gamma=0.5), batch_size=100, num_epochs=4,
                  verbose=False, progress=False).train()
    assert step.lr_history == pytest.approx([0.2, 0.2, 0.1, 0.1], rel=1e-12)
    cos = Solver(small_model(), blocks, schedule=Cosine(0.2, num_epochs=2, lr_min=0.0), batch_size=100, num_epochs=2,
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
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"^training diverged: loss \S+ at iteration \d+ with learning rate") as info:
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
                    update_rule="sgd", schedule=Step(1e-12, step_size=1, gamma=1e18),
                    batch_size=25, num_epochs=3, verbose=False, progress=False)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"^training diverged: loss \S+ at iteration \d+ with learning rate") as info:
        solver.train()
    assert info.value.iteration > 2  # not during the first (tiny-lr) epoch of 2 iterations
    assert info.value.lr == pytest.approx(solver.lr_history[-1])
    assert info.value.lr > 1e3
    assert f"{info.value.lr:g}" in str(info.value)


def test_needs_validation_images(blocks):
    data = dict(blocks, X_val=blocks["X_val"][:0], y_val=blocks["y_val"][:0])
    with pytest.raises(ValueError, match="X_val has 0 rows and y_val 0; expected the same number, at least one"):
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
    solver = Solver(model, blocks, optimizer=SGD(), schedule=Step(0.5, step_size=3, gamma=100.0),
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


# ---- CS231n conventions ---------------------------------------------------------------------------


def test_cs231n_keywords(blocks):
    solver = Solver(small_model(), blocks, update_rule="sgd_momentum",
                    optim_config={"learning_rate": 0.05, "momentum": 0.8}, lr_decay=0.9,
                    batch_size=20, num_epochs=3, num_train_samples=50, num_val_samples=20,
                    checkpoint_name=None, print_every=5, verbose=False)
    assert isinstance(solver.optimizer, Momentum) and solver.optimizer.momentum == 0.8
    solver.train()
    assert solver.lr_history == pytest.approx([0.05, 0.05 * 0.9, 0.05 * 0.81], rel=1e-12)
    # accuracies measured on the first num_*_samples images
    model = solver.model
    X_val, y_val = blocks["X_val"], blocks["y_val"]
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert solver.check_accuracy(X_val, y_val, num_samples=20) == model.accuracy(X_val[:20], y_val[:20])
    assert all(round(a * 20) == a * 20 for a in solver.val_acc_history)  # fractions of 20 images
    assert all(round(a * 50) == a * 50 for a in solver.train_acc_history)


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "nesterov", "rmsprop", "adam"])
def test_every_cs231n_rule_learns(blocks, rule):
    lr = {"sgd": 0.5, "sgd_momentum": 0.1, "nesterov": 0.1, "rmsprop": 1e-2, "adam": 1e-2}[rule]
    solver = Solver(small_model(), blocks, update_rule=rule, optim_config={"learning_rate": lr},
                    batch_size=20, num_epochs=4, verbose=False).train()
    assert np.mean(solver.loss_history[-5:]) < np.mean(solver.loss_history[:5])
    assert solver.best_val_acc > 0.5


def test_unknown_keywords_refused_naming_them(blocks):
    with pytest.raises(TypeError, match="'learning_rate'"):
        Solver(small_model(), blocks, learning_rate=0.1)
    with pytest.raises(ValueError, match="update_rule 'sgd' takes no momentum"):
        Solver(small_model(), blocks, optim_config={"learning_rate": 0.1, "momentum": 0.9})
    with pytest.raises(ValueError, match="'adagrad' is not one of"):
        Solver(small_model(), blocks, update_rule="adagrad")
    with pytest.raises(ValueError, match="batch_size = 0: expected an integer >= 1"):
        Solver(small_model(), blocks, batch_size=0)
    with pytest.raises(ValueError, match="Solver data lacks y_val"):
        Solver(small_model(), {k: v for k, v in blocks.items() if k != "y_val"})
    with pytest.raises(ValueError, match="X_train has 200 rows and y_train 199"):
        Solver(small_model(), dict(blocks, y_train=blocks["y_train"][:-1]))


def test_objects_or_keywords_not_both(blocks):
    with pytest.raises(ValueError, match="either optimizer= or update_rule"):
        Solver(small_model(), blocks, optimizer=SGD(), update_rule="adam")
    with pytest.raises(ValueError, match="either schedule= or learning_rate"):
        Solver(small_model(), blocks, schedule=Step(0.1), lr_decay=0.9)
    with pytest.raises(ValueError, match="either schedule= or learning_rate"):
        Solver(small_model(), blocks, schedule=Step(0.1), optim_config={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="schedule spans 5 epochs but num_epochs is 3"):
        Solver(small_model(), blocks, schedule=Cosine(0.1, 5), num_epochs=3)


def test_keywords_and_objects_give_the_same_run(blocks):
    """CS231n's keywords map onto the same optimizer and schedule objects as the params.yaml path."""
    a = Solver(small_model(), blocks, update_rule="adam", optim_config={"learning_rate": 1e-2, "beta1": 0.8},
               lr_decay=0.9, batch_size=20, num_epochs=2, verbose=False).train()
    b = Solver(small_model(), blocks, optimizer=Adam(beta1=0.8), schedule=Exponential(1e-2, 0.9),
               batch_size=20, num_epochs=2, verbose=False).train()
    assert a.schedule == b.schedule
    assert a.loss_history == b.loss_history
    for k in PARAMS:
        assert np.array_equal(a.model.params[k], b.model.params[k])


class SoftmaxClassifier:
    """A user's own model: only a `params` dict and `loss(X, y=None)` (float64, no preprocessing)."""

    def __init__(self, dim, classes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W": 1e-3 * rng.standard_normal((dim, classes)), "b": np.zeros(classes)}
        self.seen: list[np.ndarray] = []

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        self.seen.append(X.copy())
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(len(y)), y]).mean()
        p[np.arange(len(y)), y] -= 1
        p /= len(y)
        return loss, {"W": X.T @ p, "b": p.sum(axis=0)}


def float_blocks(blocks):
    return {k: (v / 255.0 if k.startswith("X") else v) for k, v in blocks.items()}


def test_any_model_with_params_and_loss_trains(blocks, tmp_path):
    data = float_blocks(blocks)
    model = SoftmaxClassifier(64, 4)
    solver = Solver(model, data, update_rule="sgd_momentum", optim_config={"learning_rate": 0.5},
                    batch_size=20, num_epochs=4, verbose=False).train()
    assert solver.val_acc_history[0] < 0.5 < solver.best_val_acc
    assert np.mean(solver.loss_history[-5:]) < np.mean(solver.loss_history[:5])
    # the float images went to the model as they are: each minibatch is a set of rows of X_train
    rows = {r.tobytes() for r in data["X_train"]}
    assert model.seen[0].dtype == np.float64 and all(r.tobytes() in rows for r in model.seen[0])
    # check_accuracy works through loss(X), in batches
    preds = np.argmax(model.loss(data["X_val"]), axis=1)
    assert solver.check_accuracy(data["X_val"], data["y_val"], batch_size=7) == np.mean(preds == data["y_val"])

    # and pauses and continues like our own model
    whole = Solver(SoftmaxClassifier(64, 4), data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                   batch_size=20, num_epochs=3, verbose=False, checkpoint_name=str(tmp_path / "soft")).train()
    resumed = Solver(SoftmaxClassifier(64, 4, seed=9), data, update_rule="adam",
                     optim_config={"learning_rate": 1e-2}, batch_size=20, num_epochs=3, verbose=False)
    assert load_checkpoint(tmp_path / "soft_epoch_1.npz", resumed)["epoch"] == 1
    resumed.train()
    assert resumed.loss_history == whole.loss_history
    for k in ("W", "b"):
        assert np.array_equal(resumed.model.params[k], whole.model.params[k])


def test_our_model_with_float_images_uses_them_as_given(blocks):
    data = float_blocks(blocks)
    seen = []

    class Spy(TwoLayerNet):
        def loss(self, X, y=None, grads_out=None):
            if y is not None:
                seen.append(X.copy())
            return super().loss(X, y, grads_out)

    model = Spy(64, 16, 4, weight_scale=1e-2, preprocessor=Preprocessor("unit"))
    Solver(model, data, optim_config={"learning_rate": 0.5}, batch_size=20, num_epochs=1, verbose=False).train()
    rows = {r.tobytes() for r in data["X_train"]}
    assert seen[0].dtype == np.float64 and all(r.tobytes() in rows for r in seen[0])  # not scaled again


def test_checkpoint_name_writes_npz_each_epoch(blocks, tmp_path):
    solver = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=3,
                    verbose=False, checkpoint_name=str(tmp_path / "run")).train()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"run_epoch_{e}.npz" for e in (1, 2, 3)]
    with np.load(tmp_path / "run_epoch_2.npz", allow_pickle=False) as npz:
        assert int(npz["epoch"]) == 2 and npz["history/val_acc"].tolist() == solver.val_acc_history[:3]


def test_save_model_writes_the_best_params_as_npz(blocks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    solver = Solver(small_model(), blocks, optim_config={"learning_rate": 0.1}, batch_size=50, num_epochs=2,
                    verbose=False, save_model=True).train()
    saved = load_npz(tmp_path / "best_model.npz")
    assert sorted(saved) == sorted(PARAMS)
    for k in PARAMS:
        assert np.array_equal(saved[k], solver.best_params[k])
    Solver(small_model(), blocks, batch_size=50, num_epochs=1, verbose=False, save_model="sub/m.npz").train()
    assert (tmp_path / "sub" / "m.npz").is_file()
    Solver(small_model(), blocks, batch_size=50, num_epochs=1, verbose=False, save_model=False).train()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_model.npz", "sub"]
