"""pipeline.nn.model.TwoLayerNet: gradients, scores, prediction, initialisation, overfitting a tiny set."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.nn.model import TwoLayerNet
from pipeline.nn.preprocess import Preprocessor
from pipeline.nn.solver import Solver

from support import eval_numerical_gradient, rel_error

PARAMS = ("W1", "b1", "W2", "b2")


def _small_problem(reg: float):
    """A float64 net on 5 random inputs whose hidden pre-activations all stay well away from 0."""
    rng = np.random.default_rng(0)
    n, d, h, c = 5, 6, 7, 4
    X = rng.standard_normal((n, d))
    y = np.arange(n) % c
    model = TwoLayerNet(d, h, c, weight_scale=1.0, reg=reg, dtype=np.float64, seed=0)
    model.params["b1"][:] = 0.1 * rng.standard_normal(h)
    model.params["b2"][:] = 0.1 * rng.standard_normal(c)
    pre = X @ model.params["W1"] + model.params["b1"]
    # centred differences of size 1e-5 in any weight move a pre-activation by far less than this
    assert np.abs(pre).min() > 0.05
    return model, X, y


def _reference_loss(model: TwoLayerNet, X: np.ndarray, y: np.ndarray) -> float:
    p = model.params
    hidden = np.maximum(X @ p["W1"] + p["b1"], 0)
    scores = hidden @ p["W2"] + p["b2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    data = -logp[np.arange(len(y)), y].mean()
    return float(data + 0.5 * model.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)))


# ---- gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_gradients_match_numerical(reg):
    model, X, y = _small_problem(reg)
    loss, grads = model.loss(X, y)
    grads = {k: np.array(v, copy=True) for k, v in grads.items()}
    assert np.isfinite(loss)
    assert set(grads) == set(PARAMS)

    def f(_):
        return model.loss(X, y)[0]

    for name in PARAMS:
        num = eval_numerical_gradient(f, model.params[name])
        assert grads[name].shape == model.params[name].shape
        err = rel_error(grads[name], num)
        assert err < 1e-7, f"{name} (reg={reg}): relative error {err:.2e}"


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_loss_value_matches_reference(reg):
    model, X, y = _small_problem(reg)
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(_reference_loss(model, X, y), rel=1e-12)


def test_regularization_adds_penalty():
    model, X, y = _small_problem(0.0)
    loss0, g0 = model.loss(X, y)
    g0 = {k: v.copy() for k, v in g0.items()}
    model.reg = 0.7
    loss7, g7 = model.loss(X, y)
    p = model.params
    penalty = 0.5 * 0.7 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert loss7 == pytest.approx(loss0 + penalty, rel=1e-12)
    np.testing.assert_allclose(g7["W1"], g0["W1"] + 0.7 * p["W1"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g7["W2"], g0["W2"] + 0.7 * p["W2"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g7["b1"], g0["b1"], rtol=1e-12, atol=1e-15)  # biases not regularised
    np.testing.assert_allclose(g7["b2"], g0["b2"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_grads_out_receives_the_gradients(reg):
    model, X, y = _small_problem(reg)
    loss_a, grads = model.loss(X, y)
    expected = {k: np.array(v, copy=True) for k, v in grads.items()}
    out = {k: np.full_like(v, np.nan) for k, v in model.params.items()}
    arrays = dict(out)
    loss_b, _ = model.loss(X, y, grads_out=out)
    assert loss_b == loss_a
    for k in PARAMS:
        # the caller's own arrays hold the result (the Solver relies on that)
        np.testing.assert_allclose(arrays[k], expected[k], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(out[k], expected[k], rtol=1e-12, atol=1e-15)


def test_loss_does_not_modify_params_or_input():
    model, X, y = _small_problem(0.7)
    before = {k: v.copy() for k, v in model.params.items()}
    X0 = X.copy()
    model.loss(X, y)
    model.loss(X)
    for k in PARAMS:
        np.testing.assert_array_equal(model.params[k], before[k])
    np.testing.assert_array_equal(X, X0)


# ---- scores and prediction --------------------------------------------------------------------------


def test_scores_shape_and_values():
    model, X, _ = _small_problem(0.0)
    scores = model.loss(X)
    assert scores.shape == (X.shape[0], model.num_classes)
    p = model.params
    expected = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_float32_model_scores_are_float32():
    rng = np.random.default_rng(3)
    model = TwoLayerNet(8, 5, 3, seed=1, dtype=np.float32)
    X = rng.standard_normal((4, 8)).astype(np.float32)
    scores = model.loss(X)
    assert scores.shape == (4, 3)
    assert scores.dtype == np.float32
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_float32_model_loss_accepts_float64_input():
    """The docstring promises `loss` takes "a float array (N, input_dim)"; float64 is one.

    (A float64 model accepts float32 input; the reverse should work too, computing in float32.)
    """
    rng = np.random.default_rng(3)
    model = TwoLayerNet(8, 5, 3, weight_scale=0.1, seed=1, dtype=np.float32)
    X64 = rng.standard_normal((4, 8))
    y = np.array([0, 1, 2, 0])
    expected_scores = model.loss(X64.astype(np.float32))
    scores = model.loss(X64)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
    loss, _ = model.loss(X64, y)
    assert np.isfinite(loss)


@pytest.fixture
def image_model():
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (23, 30), dtype=np.uint8)
    model = TwoLayerNet(30, 12, 5, weight_scale=0.05, dtype=np.float64, seed=3, preprocessor=Preprocessor("unit"))
    return model, images


def test_predict_equals_argmax_of_scores(image_model):
    model, images = image_model
    X = model.preprocessor.transform(images, dtype=np.float64)
    expected = np.argmax(model.loss(X), axis=1)
    preds = model.predict(images)
    assert preds.shape == (images.shape[0],)
    assert np.issubdtype(preds.dtype, np.integer)
    np.testing.assert_array_equal(preds, expected)
    assert len(np.unique(preds)) > 1  # a non-trivial check


@pytest.mark.parametrize("batch_size", [1, 4, 7, 22, 23, 10000])
def test_predict_independent_of_batch_size(image_model, batch_size):
    model, images = image_model
    reference = model.predict(images)
    np.testing.assert_array_equal(model.predict(images, batch_size=batch_size), reference)


def test_accuracy_is_fraction_correct(image_model):
    model, images = image_model
    preds = model.predict(images)
    labels = preds.copy()
    labels[:5] = (labels[:5] + 1) % model.num_classes  # 5 of 23 wrong
    assert model.accuracy(images, labels) == pytest.approx(18 / 23)
    assert model.accuracy(images, labels, batch_size=5) == pytest.approx(18 / 23)


# ---- initialisation -------------------------------------------------------------------------------


def test_normal_init_std_is_weight_scale():
    model = TwoLayerNet(784, 100, 10, weight_scale=1e-2, init="normal", seed=0, dtype=np.float64)
    p = model.params
    assert p["W1"].shape == (784, 100) and p["b1"].shape == (100,)
    assert p["W2"].shape == (100, 10) and p["b2"].shape == (10,)
    assert p["W1"].std() == pytest.approx(1e-2, rel=0.02)
    assert p["W2"].std() == pytest.approx(1e-2, rel=0.15)
    assert abs(p["W1"].mean()) < 1e-3  # centred: a tenth of the scale, ~30 standard errors
    np.testing.assert_array_equal(p["b1"], 0)
    np.testing.assert_array_equal(p["b2"], 0)


def test_he_init_std_is_sqrt_2_over_fan_in():
    model = TwoLayerNet(784, 200, 10, weight_scale=1e-3, init="he", seed=0)
    p = model.params
    assert p["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert p["W2"].std() == pytest.approx(np.sqrt(2 / 200), rel=0.1)
    np.testing.assert_array_equal(p["b1"], 0)
    np.testing.assert_array_equal(p["b2"], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_dtype(dtype):
    model = TwoLayerNet(20, 6, 3, dtype=dtype)
    assert model.dtype == np.dtype(dtype)
    for k in PARAMS:
        assert model.params[k].dtype == np.dtype(dtype)


@pytest.mark.parametrize("init", ["normal", "he"])
def test_init_seeded(init):
    a = TwoLayerNet(30, 8, 4, init=init, seed=5).params
    b = TwoLayerNet(30, 8, 4, init=init, seed=5).params
    c = TwoLayerNet(30, 8, 4, init=init, seed=6).params
    for k in PARAMS:
        assert a[k].tobytes() == b[k].tobytes()
    assert not np.array_equal(a["W1"], c["W1"])
    assert not np.array_equal(a["W2"], c["W2"])


def test_rejects_unknown_init_and_dtype():
    with pytest.raises(ValueError, match="xavier"):
        TwoLayerNet(4, 3, 2, init="xavier")
    with pytest.raises(ValueError, match="float16"):
        TwoLayerNet(4, 3, 2, dtype=np.float16)


# ---- overfitting a tiny set -----------------------------------------------------------------------


def test_overfits_fifty_random_images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (50, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 50)
    X_val = rng.integers(0, 256, (20, 784), dtype=np.uint8)
    y_val = rng.integers(0, 10, 20)
    model = TwoLayerNet(784, 100, 10, init="he", seed=0, preprocessor=Preprocessor("unit"))
    solver = Solver(
        model, {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val},
        update_rule="adam", optim_config={"learning_rate": 5e-3},
        batch_size=25, num_epochs=30, verbose=False, progress=False, seed=0,
    )
    solver.train()
    assert solver.train_acc_history[0] < 0.5
    assert solver.train_acc_history[-1] == 1.0
    assert np.mean(solver.loss_history[-5:]) < 0.1 * np.mean(solver.loss_history[:2])


# ---- given parameters (the assignment's Part 3) ---------------------------------------------------


def _assignment_params(dtype=np.float64, d=784, h=16, c=10):
    rng = np.random.default_rng(5)
    return {"W1": 1e-3 * rng.standard_normal((d, h)).astype(dtype), "b1": np.zeros(h, dtype),
            "W2": 1e-3 * rng.standard_normal((h, c)).astype(dtype), "b2": np.zeros(c, dtype)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_given_params_set_the_model_dtype_and_are_used_as_given(dtype):
    params = _assignment_params(dtype)
    model = TwoLayerNet(784, params["W1"].shape[1], 10, params=params)
    assert model.dtype == dtype
    assert model.params is params and model.params["W1"] is params["W1"]
    X = np.random.default_rng(0).integers(0, 256, (7, 784), dtype=np.uint8)  # raw uint8 images, as data['X_test']
    scores = model.loss(X)
    assert scores.dtype == dtype
    expected = np.maximum(X.astype(np.float64) @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
    np.testing.assert_allclose(scores, expected, rtol=1e-4 if dtype == np.float32 else 1e-10)
    loss, grads = model.loss(X, np.arange(7) % 10)
    assert np.isfinite(loss) and grads["W1"].dtype == dtype


def test_given_params_with_agreeing_dtype_argument():
    params = _assignment_params(np.float64)
    assert TwoLayerNet(784, 16, 10, dtype=np.float64, params=params).dtype == np.float64
    with pytest.raises(ValueError, match=r"params\['W1'\] has dtype float64; expected float32"):
        TwoLayerNet(784, 16, 10, dtype=np.float32, params=params)


@pytest.mark.parametrize("name, value, message", [
    ("W1", np.zeros((784, 17)),
     r"params\['W1'\] has shape \(784, 17\); expected \(input_dim, hidden_dim\) = \(784, 16\)"),
    ("b1", np.zeros((1, 16)), r"params\['b1'\] has shape \(1, 16\); expected \(hidden_dim,\) = \(16,\)"),
    ("W2", np.zeros((16, 9)), r"params\['W2'\] has shape \(16, 9\); expected \(hidden_dim, num_classes\)"),
    ("b2", np.zeros(10, np.float32), r"params\['b2'\] has dtype float32; expected float64"),
    ("b2", [0.0] * 10, r"params\['b2'\] is a list; expected a numpy array"),
])
def test_given_params_mismatch_is_refused_naming_the_array(name, value, message):
    params = _assignment_params()
    params[name] = value
    with pytest.raises(ValueError, match=message):
        TwoLayerNet(784, 16, 10, params=params)


def test_given_params_must_be_exactly_the_four_arrays():
    params = _assignment_params()
    del params["b2"]
    with pytest.raises(ValueError, match=r"exactly W1, b1, W2, b2; got \['W1', 'W2', 'b1'\]"):
        TwoLayerNet(784, 16, 10, params=params)
    with pytest.raises(ValueError, match="dtype int64 is not float32 or float64"):
        TwoLayerNet(784, 16, 10, params={k: v.astype(np.int64) for k, v in _assignment_params().items()})
