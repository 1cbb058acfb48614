"""Training aids beyond the assignment: hidden-layer inverted dropout and label smoothing.

(Augmentation has tests/test_augment.py; early stopping is the Solver's `patience`, tested in test_solver.py;
their wiring from TrainParams is tested in test_training_recipes.py.)
"""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.nn.layers import softmax_loss
from pipeline.nn.model import TwoLayerNet

from support import eval_numerical_gradient, rel_error


# ------------------------------------------------------------------------------ label smoothing
def _smoothed_reference(scores: np.ndarray, y: np.ndarray, eps: float) -> float:
    s = scores - scores.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    c = scores.shape[1]
    target = np.full_like(logp, eps / c)
    target[np.arange(len(y)), y] += 1 - eps
    return float(-(target * logp).sum(axis=1).mean())


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_label_smoothing_loss_and_gradient(eps):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((6, 5))
    y = rng.integers(0, 5, 6)
    loss, dscores = softmax_loss(scores, y, smoothing=eps)
    assert loss == pytest.approx(_smoothed_reference(scores, y, eps), rel=1e-12)
    num = eval_numerical_gradient(lambda s: softmax_loss(s, y, smoothing=eps)[0], scores.copy())
    assert rel_error(dscores, num) < 1e-7
    assert np.allclose(dscores.sum(axis=1), 0.0)  # softmax and smoothed target both sum to 1


def test_label_smoothing_zero_is_the_plain_loss_bit_for_bit():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((200, 10)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    plain = softmax_loss(scores, y)
    zero = softmax_loss(scores, y, smoothing=0.0)
    assert plain[0] == zero[0] and np.array_equal(plain[1], zero[1])


def test_label_smoothing_keeps_the_loss_above_zero_on_confident_scores():
    # With smoothing, a confident correct prediction is no longer free: the loss stays bounded away from 0.
    scores = np.array([[30.0, 0.0, 0.0]])
    assert softmax_loss(scores, np.array([0]))[0] < 1e-9
    assert softmax_loss(scores, np.array([0]), smoothing=0.1)[0] > 0.5


def test_model_uses_label_smoothing_in_training_only():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((8, 6))
    y = np.arange(8) % 3
    plain = TwoLayerNet(6, 5, 3, weight_scale=0.5, dtype=np.float64, seed=0)
    smooth = TwoLayerNet(6, 5, 3, weight_scale=0.5, dtype=np.float64, seed=0, label_smoothing=0.2)
    assert np.array_equal(plain.loss(X), smooth.loss(X))
    assert smooth.loss(X, y)[0] != pytest.approx(plain.loss(X, y)[0])


# ------------------------------------------------------------------------------ dropout
def test_dropout_is_training_only_and_zero_is_the_plain_model():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 6)).astype(np.float32)
    y = np.arange(10) % 4
    plain = TwoLayerNet(6, 9, 4, weight_scale=0.5, seed=0)
    drop = TwoLayerNet(6, 9, 4, weight_scale=0.5, seed=0, dropout=0.5)
    assert np.array_equal(plain.loss(X), drop.loss(X)), "scores (inference) never drop units"
    assert np.array_equal(plain.predict((X * 0).astype(np.uint8)), drop.predict((X * 0).astype(np.uint8)))
    zero = TwoLayerNet(6, 9, 4, weight_scale=0.5, seed=0, dropout=0.0)
    lp, gp = plain.loss(X, y)
    lz, gz = zero.loss(X, y)
    assert lp == lz and all(np.array_equal(gp[k], gz[k]) for k in gp)
    ld, _ = drop.loss(X, y)
    assert ld != lp


def test_dropout_mask_rate_scale_and_seed():
    model = TwoLayerNet(6, 1000, 4, seed=7, dropout=0.3)
    mask = model._dropout_mask(200).copy()
    assert set(np.unique(mask)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((mask == 0).mean() - 0.3) < 0.01
    assert abs(mask.mean() - 1.0) < 0.02, "inverted dropout keeps the expected activation"
    again = TwoLayerNet(6, 1000, 4, seed=7, dropout=0.3)._dropout_mask(200)
    other = TwoLayerNet(6, 1000, 4, seed=8, dropout=0.3)._dropout_mask(200)
    assert np.array_equal(mask, again) and not np.array_equal(mask, other)
    assert not np.array_equal(mask, model._dropout_mask(200)), "a fresh mask every call"


def test_dropout_gradient_matches_numerical_for_a_fixed_mask():
    rng = np.random.default_rng(4)
    n, d, h, c = 5, 6, 7, 4
    X = rng.standard_normal((n, d))
    y = np.arange(n) % c
    model = TwoLayerNet(d, h, c, weight_scale=1.0, reg=0.05, dtype=np.float64, seed=0, dropout=0.4)
    model.params["b1"][:] = 0.1 * rng.standard_normal(h)
    model.params["b2"][:] = 0.1 * rng.standard_normal(c)
    state = model.dropout_rng.bit_generator.state

    def loss_same_mask(_):
        model.dropout_rng.bit_generator.state = state  # the same mask for every evaluation
        return model.loss(X, y)[0]

    model.dropout_rng.bit_generator.state = state
    _, grads = model.loss(X, y)
    grads = {k: v.copy() for k, v in grads.items()}
    for name in ("W1", "b1", "W2", "b2"):
        num = eval_numerical_gradient(loss_same_mask, model.params[name])
        assert np.allclose(grads[name], num, rtol=1e-6, atol=1e-8), (name, rel_error(grads[name], num))
    model.dropout_rng.bit_generator.state = state
    mask = model._dropout_mask(n)
    assert (mask == 0).any(), "the check covers dropped units"


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="dropout"):
        TwoLayerNet(6, 5, 3, dropout=1.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        TwoLayerNet(6, 5, 3, label_smoothing=-0.1)

