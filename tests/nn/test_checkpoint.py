"""Pause and continue: Solver.state_dict / load_state_dict and pipeline.nn.checkpoint, bit for bit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.nn.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from pipeline.nn.npz import save_npz
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.optim import make_optimizer
from pipeline.nn.preprocess import Preprocessor
from pipeline.nn.schedules import Cosine, Exponential
from pipeline.nn.solver import Solver
from support import block_images, small_data

N_EPOCHS = 5
LR = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 1e-3, "adam": 1e-2}


@pytest.fixture(scope="module")
def blocks():
    return small_data(0, 120, 40)


def flip_some(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A toy augmentation that consumes random numbers: invert a random subset of rows."""
    out = batch.copy()
    rows = rng.random(batch.shape[0]) < 0.3
    out[rows] = 255 - out[rows]
    return out


def make_solver(data, rule="sgd", schedule="exponential", model_seed=1, **kw) -> Solver:
    model = TwoLayerNet(64, 12, 4, weight_scale=1e-2, preprocessor=Preprocessor("unit"), seed=model_seed)
    lr_schedule = {"exponential": Exponential(LR[rule], lr_decay=0.8),
                   "cosine": Cosine(LR[rule], N_EPOCHS, lr_min=1e-4)}[schedule]
    return Solver(model, data, optimizer=make_optimizer(rule), schedule=lr_schedule, batch_size=16, num_epochs=N_EPOCHS,
                  verbose=False, progress=False, seed=7, **kw)


def assert_same_run(a: Solver, b: Solver) -> None:
    for k in a.model.params:
        assert np.array_equal(a.model.params[k], b.model.params[k]), k
        assert np.array_equal(a.best_params[k], b.best_params[k]), k
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), k
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    assert a.val_acc_history == b.val_acc_history
    assert a.lr_history == b.lr_history
    assert (a.best_val_acc, a.best_epoch, a.epoch) == (b.best_val_acc, b.best_epoch, b.epoch)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("schedule", ["exponential", "cosine"])
@pytest.mark.parametrize("rule", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_checkpoint_then_continue_equals_uninterrupted(blocks, tmp_path, rule, schedule):
    whole = make_solver(blocks, rule, schedule).train()

    first = make_solver(blocks, rule, schedule).train(until_epoch=2)
    assert first.epoch == 2 and len(first.val_acc_history) == 3
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, first, meta={"trial": 3})

    # a fresh solver whose model starts from other weights: everything must come from the file
    resumed = make_solver(blocks, rule, schedule, model_seed=99)
    assert not np.array_equal(resumed.model.params["W1"], first.model.params["W1"])
    assert load_checkpoint(path, resumed) == {"trial": 3}
    assert resumed.epoch == 2
    resumed.train()
    assert_same_run(whole, resumed)
    assert resumed.optimizer.state_dict() or rule == "sgd"  # the stateful rules really carried state


def test_pause_in_memory_several_times(blocks):
    whole = make_solver(blocks, "adam", augment=flip_some).train()
    paused = make_solver(blocks, "adam", augment=flip_some)
    for k in (0, 1, 1, 3, 4):
        paused.train(until_epoch=k)
        assert paused.epoch == k
    paused.train()
    assert_same_run(whole, paused)
    assert paused.augment_rng.bit_generator.state == whole.augment_rng.bit_generator.state


def test_augment_state_is_checkpointed(blocks, tmp_path):
    whole = make_solver(blocks, "momentum", augment=flip_some).train()
    first = make_solver(blocks, "momentum", augment=flip_some).train(until_epoch=3)
    save_checkpoint(tmp_path / "c.npz", first)
    resumed = make_solver(blocks, "momentum", augment=flip_some)
    load_checkpoint(tmp_path / "c.npz", resumed)
    resumed.train()
    assert_same_run(whole, resumed)
    # without the saved augment generator the continuation would differ
    other = make_solver(blocks, "momentum", augment=flip_some)
    load_checkpoint(tmp_path / "c.npz", other)
    other.augment_rng = np.random.default_rng(12345)
    other.train()
    assert other.loss_history != whole.loss_history


def test_pausing_leaves_current_params_finishing_restores_best(blocks):
    s = make_solver(blocks, "sgd")
    s.train(until_epoch=N_EPOCHS - 1)
    current = {k: v.copy() for k, v in s.model.params.items()}
    snapshot = s.state_dict()
    assert all(np.array_equal(snapshot[f"params/{k}"], v) for k, v in current.items())
    s.train()
    for k, v in s.best_params.items():
        assert np.array_equal(s.model.params[k], v)


def test_checkpoint_bytes_are_deterministic(blocks, tmp_path):
    a = make_solver(blocks, "adam").train(until_epoch=2)
    b = make_solver(blocks, "adam").train(until_epoch=1)
    b.train(until_epoch=2)
    save_checkpoint(tmp_path / "a.npz", a, meta={"x": 1, "y": [1, 2]})
    save_checkpoint(tmp_path / "b.npz", b, meta={"y": [1, 2], "x": 1})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    c = make_solver(blocks, "adam").train(until_epoch=3)
    save_checkpoint(tmp_path / "c.npz", c, meta={"x": 1, "y": [1, 2]})
    assert (tmp_path / "c.npz").read_bytes() != (tmp_path / "a.npz").read_bytes()


def test_state_dict_is_plain_arrays(blocks):
    s = make_solver(blocks, "adam").train(until_epoch=1)
    state = s.state_dict()
    assert all(isinstance(v, np.ndarray) and not v.dtype.hasobject for v in state.values())
    assert state["rng/shuffle"].shape == () and state["rng/shuffle"].dtype.kind == "U"
    assert json.loads(str(state["rng/shuffle"][()]))["bit_generator"] == "PCG64"
    assert int(state["optim/W1/t"]) == s.iterations_per_epoch  # Adam's step count
    assert state["history/loss"].shape == (s.iterations_per_epoch,)
    assert state["epoch"] == 1
    # the state is a snapshot, not a view of the live arrays
    state["params/W1"][...] = 0
    assert not np.array_equal(s.model.params["W1"], state["params/W1"])


def test_load_refuses_missing_or_misshaped_arrays_and_changes_nothing(blocks):
    good = make_solver(blocks, "momentum").train(until_epoch=2).state_dict()
    target = make_solver(blocks, "momentum")
    before = {k: v.copy() for k, v in target.model.params.items()}
    for key, value, message in [
        ("optim/W2/v", None, "'W2/v'"),
        ("params/b1", None, "'params/b1'"),
        ("rng/shuffle", None, "'rng/shuffle'"),
        ("params/W1", np.zeros((64, 13), np.float32), r"'params/W1' has shape \(64, 13\), expected \(64, 12\)"),
        ("optim/W1/v", np.zeros((3,), np.float32), "'W1/v' has shape"),
        ("history/loss", np.zeros(3), "'history/loss' has shape"),
        ("params/W1", np.zeros((64, 12), np.float64), "dtype float64, expected float32"),
        ("rng/augment", np.array("{not json"), "'rng/augment' is not a generator state"),
        ("surprise", np.zeros(1), "unexpected array.*surprise"),
    ]:
        bad = dict(good)
        if value is None:
            del bad[key]
        else:
            bad[key] = value
        with pytest.raises(ValueError, match=message):
            target.load_state_dict(bad)
        assert target.epoch == 0 and target.loss_history == [] and target.optimizer.state == {}
        for k, v in before.items():
            assert np.array_equal(target.model.params[k], v)


def test_load_refuses_a_checkpoint_of_another_run_shape(blocks, tmp_path):
    s = make_solver(blocks, "sgd").train(until_epoch=1)
    save_checkpoint(tmp_path / "c.npz", s)
    other_batch = Solver(TwoLayerNet(64, 12, 4, preprocessor=Preprocessor("unit")), blocks,
                         optim_config={"learning_rate": 0.1}, batch_size=8, num_epochs=N_EPOCHS, verbose=False)
    with pytest.raises(ValueError, match=r"c\.npz: .*'history/loss' has shape"):
        load_checkpoint(tmp_path / "c.npz", other_batch)
    short = make_solver(blocks, "sgd")
    short.num_epochs = 0
    with pytest.raises(ValueError, match="epoch 1 is outside"):
        load_checkpoint(tmp_path / "c.npz", short)


def test_load_checkpoint_names_bad_files(blocks, tmp_path):
    s = make_solver(blocks, "sgd")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_checkpoint(tmp_path / "nope.npz", s)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match=r"junk\.npz: not a solver checkpoint") as info:
        load_checkpoint(junk, s)
    assert "allow_pickle" not in str(info.value)
    model_like = tmp_path / "model.npz"
    save_npz(model_like, {"W1": np.zeros(3)})
    with pytest.raises(ValueError, match=r"model\.npz: not a solver checkpoint.*missing array 'checkpoint'"):
        load_checkpoint(model_like, s)
    wrong_format = tmp_path / "other.npz"
    save_npz(wrong_format, {"checkpoint": np.array(json.dumps({"format": "something/9", "meta": {}}))})
    with pytest.raises(ValueError, match=rf"other\.npz: checkpoint header is not a {FORMAT}"):
        load_checkpoint(wrong_format, s)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, checkpoint=np.array([{"format": FORMAT}], dtype=object))
    with pytest.raises(ValueError, match=r"pickled\.npz: not a solver checkpoint"):
        load_checkpoint(pickled, s)


def test_save_checkpoint_refuses_unserialisable_meta(blocks, tmp_path):
    with pytest.raises(ValueError, match="meta must be JSON"):
        save_checkpoint(tmp_path / "c.npz", make_solver(blocks), meta={"f": object()})
    assert not (tmp_path / "c.npz").exists()


def test_dropout_masks_continue_from_the_checkpoint(blocks, tmp_path):
    def solver(model_seed=1):
        model = TwoLayerNet(64, 12, 4, weight_scale=1e-2, preprocessor=Preprocessor("unit"), seed=model_seed,
                            dropout=0.5)
        return Solver(model, blocks, optimizer=make_optimizer("momentum"), schedule=Exponential(LR["momentum"]),
                      batch_size=16, num_epochs=N_EPOCHS, verbose=False, progress=False, seed=7)

    whole = solver().train()
    first = solver().train(until_epoch=2)
    save_checkpoint(tmp_path / "c.npz", first)
    resumed = solver(model_seed=99)
    load_checkpoint(tmp_path / "c.npz", resumed)
    resumed.train()
    assert_same_run(whole, resumed)
    assert resumed.model.dropout_rng.bit_generator.state == whole.model.dropout_rng.bit_generator.state
