"""pipeline.nn.optim: each update rule against hand-computed steps (two steps, so the state matters)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.nn.optim import (UPDATE_RULES, Adam, Momentum, Nesterov, Optimizer, RMSprop, SGD, hyperparameters,
                            make_optimizer)

W0 = [1.0, -2.0, 0.5]
G1 = [0.5, -1.0, 2.0]
G2 = [-0.25, 0.5, 1.0]


def _run(opt: Optimizer, lr: float, dtype=np.float64):
    """Two steps on one 3-element parameter (plus an untouched-by-state second one); returns w after each."""
    params = {"w": np.array(W0, dtype=dtype), "b": np.array([0.0, 1.0], dtype=dtype)}
    after = []
    for g in (G1, G2):
        grads = {"w": np.array(g, dtype=dtype), "b": np.array([1.0, -1.0], dtype=dtype)}
        grads_before = {k: v.copy() for k, v in grads.items()}
        opt.step(params, grads, lr)
        for k in grads:  # step never modifies the gradients
            np.testing.assert_array_equal(grads[k], grads_before[k])
        after.append(params["w"].copy())
    return after


def test_sgd_two_steps():
    w1, w2 = _run(SGD(), lr=0.1)
    # w1 = w0 - 0.1 * g1 ; w2 = w1 - 0.1 * g2
    np.testing.assert_allclose(w1, [1.0 - 0.05, -2.0 + 0.1, 0.5 - 0.2], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.95 + 0.025, -1.9 - 0.05, 0.3 - 0.1], rtol=1e-12)


def test_momentum_two_steps():
    # v1 = -lr g1 = [-0.05, 0.1, -0.2];   w1 = w0 + v1 = [0.95, -1.9, 0.3]
    # v2 = 0.9 v1 - lr g2 = [-0.045 + 0.025, 0.09 - 0.05, -0.18 - 0.1] = [-0.02, 0.04, -0.28]
    # w2 = w1 + v2 = [0.93, -1.86, 0.02]
    w1, w2 = _run(Momentum(0.9), lr=0.1)
    np.testing.assert_allclose(w1, [0.95, -1.9, 0.3], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.93, -1.86, 0.02], rtol=1e-12, atol=1e-15)


def test_nesterov_two_steps():
    # v = mu v - lr dw ; w += -mu v_prev + (1 + mu) v      (mu = 0.9, lr = 0.1)
    # step 1: v_prev = 0, v1 = [-0.05, 0.1, -0.2]
    #         w1 = w0 + 1.9 v1 = [1 - 0.095, -2 + 0.19, 0.5 - 0.38] = [0.905, -1.81, 0.12]
    # step 2: v_prev = v1, v2 = [-0.02, 0.04, -0.28]
    #         w2 = w1 - 0.9 v1 + 1.9 v2
    #            = [0.905 + 0.045 - 0.038, -1.81 - 0.09 + 0.076, 0.12 + 0.18 - 0.532]
    #            = [0.912, -1.824, -0.232]
    w1, w2 = _run(Nesterov(0.9), lr=0.1)
    np.testing.assert_allclose(w1, [0.905, -1.81, 0.12], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.912, -1.824, -0.232], rtol=1e-12)


def _textbook_adam(w0, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Adam as in Kingma & Ba, element by element in plain Python floats."""
    w = list(w0)
    m = [0.0] * len(w)
    v = [0.0] * len(w)
    out = []
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            mhat = m[i] / (1 - b1**t)
            vhat = v[i] / (1 - b2**t)
            w[i] -= lr * mhat / (math.sqrt(vhat) + eps)
        out.append(list(w))
    return out


def test_adam_two_steps():
    expected = _textbook_adam(W0, [G1, G2], lr=0.01)
    w1, w2 = _run(Adam(), lr=0.01)
    np.testing.assert_allclose(w1, expected[0], rtol=1e-6)
    np.testing.assert_allclose(w2, expected[1], rtol=1e-6)
    # sanity of the hand computation: the first Adam step moves each weight by about lr * sign(g)
    np.testing.assert_allclose(np.subtract(W0, w1), 0.01 * np.sign(G1), rtol=1e-5)


def test_adam_custom_betas_and_epsilon():
    expected = _textbook_adam(W0, [G1, G2], lr=0.05, b1=0.5, b2=0.9, eps=0.1)
    w1, w2 = _run(make_optimizer("adam", beta1=0.5, beta2=0.9, epsilon=0.1), lr=0.05)
    np.testing.assert_allclose(w1, expected[0], rtol=1e-6)
    np.testing.assert_allclose(w2, expected[1], rtol=1e-6)


def test_state_is_per_parameter():
    # the same optimizer serving two parameters keeps separate velocities
    opt = Momentum(0.9)
    params = {"a": np.array([0.0]), "b": np.array([0.0])}
    opt.step(params, {"a": np.array([1.0]), "b": np.array([-1.0])}, 1.0)
    opt.step(params, {"a": np.array([0.0]), "b": np.array([0.0])}, 1.0)
    np.testing.assert_allclose(params["a"], [-1.0 - 0.9])
    np.testing.assert_allclose(params["b"], [1.0 + 0.9])


@pytest.mark.parametrize("rule", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_float32_params_stay_float32_and_in_place(rule):
    opt = make_optimizer(rule)
    w = np.array(W0, dtype=np.float32)
    params = {"w": w}
    opt.step(params, {"w": np.array(G1, dtype=np.float32)}, 0.1)
    assert params["w"] is w  # updated in place
    assert w.dtype == np.float32
    assert not np.array_equal(w, np.array(W0, dtype=np.float32))


def test_make_optimizer_rules():
    assert set(UPDATE_RULES) == {"sgd", "momentum", "nesterov", "rmsprop", "adam"}
    assert isinstance(make_optimizer("sgd"), SGD)
    mom = make_optimizer("momentum", momentum=0.8)
    assert isinstance(mom, Momentum) and not mom.nesterov and mom.momentum == 0.8
    nest = make_optimizer("nesterov", momentum=0.7)
    assert isinstance(nest, Momentum) and nest.nesterov and nest.momentum == 0.7
    assert isinstance(make_optimizer("adam"), Adam)
    # the momentum passed to make_optimizer is the one used
    w1, _ = _run(make_optimizer("momentum", momentum=0.5), lr=0.1)
    np.testing.assert_allclose(w1, [0.95, -1.9, 0.3], rtol=1e-12)


def test_make_optimizer_rejects_unknown_rule():
    rules = "sgd, momentum, nesterov, rmsprop, adam, sgd_momentum"
    with pytest.raises(ValueError, match=f"'adagrad' is not one of {rules}"):
        make_optimizer("adagrad")


def _textbook_rmsprop(w0, grads, lr, decay=0.99, eps=1e-8):
    """CS231n's rmsprop, element by element in plain Python floats."""
    w, cache, out = list(w0), [0.0] * len(w0), []
    for g in grads:
        for i, gi in enumerate(g):
            cache[i] = decay * cache[i] + (1 - decay) * gi * gi
            w[i] -= lr * gi / (math.sqrt(cache[i]) + eps)
        out.append(list(w))
    return out


@pytest.mark.parametrize("options", [{}, {"decay_rate": 0.5, "epsilon": 0.1}])
def test_rmsprop_two_steps(options):
    expected = _textbook_rmsprop(W0, [G1, G2], lr=0.01, decay=options.get("decay_rate", 0.99),
                                 eps=options.get("epsilon", 1e-8))
    opt = make_optimizer("rmsprop", **options)
    assert isinstance(opt, RMSprop)
    w1, w2 = _run(opt, lr=0.01)
    np.testing.assert_allclose(w1, expected[0], rtol=1e-12)
    np.testing.assert_allclose(w2, expected[1], rtol=1e-12)
    if not options:  # with a tiny epsilon, the first step from a zero cache moves each weight by lr / sqrt(1 - decay)
        np.testing.assert_allclose(np.abs(np.subtract(W0, w1)), 0.01 / math.sqrt(1 - opt.decay_rate), rtol=1e-6)


def test_cs231n_names_and_options():
    mom = make_optimizer("sgd_momentum", momentum=0.5)
    assert type(mom) is Momentum and mom.momentum == 0.5 and not mom.nesterov
    assert hyperparameters("adam") == ("beta1", "beta2", "epsilon")
    assert hyperparameters("rmsprop") == ("decay_rate", "epsilon")
    assert hyperparameters("sgd") == ()
    with pytest.raises(ValueError, match="update_rule 'sgd' takes no momentum; it takes no options"):
        make_optimizer("sgd", momentum=0.9)
    with pytest.raises(ValueError, match="'adam' takes no decay_rate, velocity; it takes beta1, beta2, epsilon"):
        make_optimizer("adam", velocity=None, decay_rate=0.9)


@pytest.mark.parametrize("rule", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_state_dict_round_trip_continues_identically(rule):
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(4)]
    a, b = make_optimizer(rule), make_optimizer(rule)
    pa = {k: v.copy() for k, v in params.items()}
    for g in grads[:2]:
        a.step(pa, g, 0.1)
    state = a.state_dict()
    assert not any(k.endswith(("/scratch", "/v_prev")) for k in state)  # work buffers are not state
    expected = {"sgd": set(), "momentum": {"v"}, "nesterov": {"v"}, "rmsprop": {"cache"}, "adam": {"m", "v", "t"}}
    assert state.keys() == {f"{p}/{k}" for p in params for k in expected[rule]}
    b.load_state_dict(state, pa)
    pb = {k: v.copy() for k, v in pa.items()}
    for g in grads[2:]:
        a.step(pa, g, 0.1)
        b.step(pb, g, 0.1)
    for k in params:
        assert np.array_equal(pa[k], pb[k])


def test_load_state_dict_names_bad_arrays():
    params = {"w": np.zeros(3)}
    opt = make_optimizer("adam")
    opt.step(params, {"w": np.ones(3)}, 0.1)
    good = opt.state_dict()
    with pytest.raises(ValueError, match="missing array 'w/t'"):
        make_optimizer("adam").load_state_dict({k: v for k, v in good.items() if k != "w/t"}, params)
    with pytest.raises(ValueError, match=r"'w/m' has shape \(2,\), expected \(3,\)"):
        make_optimizer("adam").load_state_dict({**good, "w/m": np.zeros(2)}, params)
    with pytest.raises(ValueError, match="unexpected array.*w/cache"):
        make_optimizer("adam").load_state_dict({**good, "w/cache": np.zeros(3)}, params)
