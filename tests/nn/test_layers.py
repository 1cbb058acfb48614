"""pipeline.nn.layers: numerical gradient checks (float64) and softmax-loss stability."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.nn.layers import (
    affine_backward,
    affine_forward,
    l2_backward,
    l2_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

from support import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

TOL = 1e-7


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---- affine ---------------------------------------------------------------------------------------


def test_affine_forward_values():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    w = np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]])
    b = np.array([0.5, -2.0])
    out, _ = affine_forward(x, w, b)
    expected = np.array([[0 * 1 + 1 * 2 + 2 * 0 + 0.5, 0 * -1 + 1 * 0.5 + 2 * 3 - 2.0],
                         [3 * 1 + 4 * 2 + 5 * 0 + 0.5, 3 * -1 + 4 * 0.5 + 5 * 3 - 2.0]])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_affine_backward_gradcheck(rng):
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((5, 3))
    b = rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))

    dx_num = eval_numerical_gradient_array(lambda x_: affine_forward(x_, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w_: affine_forward(x, w_, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b_: affine_forward(x, w, b_)[0], b, dout)

    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert rel_error(dx, dx_num) < TOL
    assert rel_error(dw, dw_num) < TOL
    assert rel_error(db, db_num) < TOL


def test_affine_backward_without_dx_still_gives_dw_db(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache, need_dx=False)
    assert dx is None
    np.testing.assert_allclose(dw, x.T @ dout, rtol=1e-12)
    np.testing.assert_allclose(db, dout.sum(axis=0), rtol=1e-12)


def test_affine_forward_out_buffer(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    buf = np.empty((4, 3))
    out, _ = affine_forward(x, w, b, out=buf)
    assert out is buf
    np.testing.assert_allclose(buf, x @ w + b, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 4])
def test_affine_forward_fortran_ordered_out(rng, n):
    """A class-major (Fortran-ordered) out buffer, as the model's scores, is filled through its transpose."""
    x, w, b = rng.standard_normal((n, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    buf_t = np.empty((3, n))
    out, cache = affine_forward(x, w, b, out=buf_t.T)
    assert out.base is buf_t or out is buf_t.T
    np.testing.assert_allclose(buf_t.T, x @ w + b, rtol=1e-12)
    assert cache[0] is x and cache[1] is w
    # bit for bit what the model computed before layer 2 went through affine_forward
    expected = np.dot(w.T, x.T) + b[:, None]
    assert np.array_equal(buf_t, expected)


# ---- relu -----------------------------------------------------------------------------------------


def _away_from_zero(rng, shape, margin=0.1):
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)  # |x| >= margin: no kink within h


def test_relu_forward_values():
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
    out, _ = relu_forward(x.copy())
    np.testing.assert_array_equal(out, [[0.0, 0.0, 0.0], [0.5, 1.0, 3.0]])


def test_relu_backward_gradcheck(rng):
    x = _away_from_zero(rng, (5, 6))
    dout = rng.standard_normal((5, 6))
    dx_num = eval_numerical_gradient_array(lambda x_: relu_forward(x_.copy())[0], x, dout)
    _, cache = relu_forward(x.copy())
    dx = relu_backward(dout.copy(), cache)
    assert rel_error(dx, dx_num) < TOL
    # and exactly: the mask of the positive inputs
    np.testing.assert_array_equal(dx, dout * (x > 0))


# ---- softmax loss -----------------------------------------------------------------------------------


def test_softmax_loss_gradcheck(rng):
    n, c = 6, 5
    scores = rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    dscores_num = eval_numerical_gradient(lambda s: softmax_loss(s.copy(), y)[0], scores)
    loss, dscores = softmax_loss(scores.copy(), y)
    assert np.isfinite(loss)
    assert rel_error(dscores, dscores_num) < TOL


def test_softmax_loss_matches_direct_formula(rng):
    scores = rng.standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(4), y]))
    loss, _ = softmax_loss(scores.copy(), y)
    assert loss == pytest.approx(expected, rel=1e-12)


def test_softmax_loss_uniform_scores_is_log_c():
    for c in (2, 10):
        scores = np.full((7, c), 3.25)
        y = np.arange(7) % c
        loss, dscores = softmax_loss(scores, y)
        assert loss == pytest.approx(np.log(c), rel=1e-12)
        # each row of dscores sums to zero (probabilities minus one-hot), scaled by 1/N
        np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-15)


def test_softmax_loss_is_stable_for_huge_scores(rng):
    base = rng.standard_normal((5, 4))
    y = np.array([0, 1, 2, 3, 0])
    huge = base + 1e4
    loss_huge, d_huge = softmax_loss(huge.copy(), y)
    loss_base, d_base = softmax_loss(base.copy(), y)
    assert np.isfinite(loss_huge)
    assert np.all(np.isfinite(d_huge))
    assert loss_huge == pytest.approx(loss_base, rel=1e-9)
    np.testing.assert_allclose(d_huge, d_base, rtol=1e-6, atol=1e-12)

    # the same for float32 and for rows that differ wildly in magnitude
    mixed = np.vstack([base[:2] * 1e4, base[2:] - 1e4]).astype(np.float32)
    loss32, d32 = softmax_loss(mixed.copy(), y)
    assert np.isfinite(loss32) and np.all(np.isfinite(d32))


def test_softmax_loss_inplace_same_result(rng):
    scores = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    original = scores.copy()
    loss_a, d_a = softmax_loss(scores, y)
    np.testing.assert_array_equal(scores, original)  # not in place: input untouched
    work = scores.copy()
    loss_b, d_b = softmax_loss(work, y, inplace=True)
    assert loss_a == loss_b
    np.testing.assert_array_equal(d_a, d_b)


# ---- l2 penalty -------------------------------------------------------------------------------------


def test_l2_forward_value():
    w1 = np.array([[1.0, 2.0], [3.0, 4.0]])
    w2 = np.array([[-1.0], [0.5]])
    loss, _ = l2_forward((w1, w2), 0.7)
    assert loss == pytest.approx(0.5 * 0.7 * (1 + 4 + 9 + 16 + 1 + 0.25), rel=1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_l2_gradcheck(rng, reg):
    w1 = rng.standard_normal((4, 3))
    w2 = rng.standard_normal((3, 2))
    _, cache = l2_forward((w1, w2), reg)
    g1, g2 = l2_backward(cache)
    n1 = eval_numerical_gradient(lambda w: l2_forward((w, w2), reg)[0], w1)
    n2 = eval_numerical_gradient(lambda w: l2_forward((w1, w), reg)[0], w2)
    assert rel_error(g1, n1) < TOL
    assert rel_error(g2, n2) < TOL


def test_l2_backward_adds_into_given_grads(rng):
    w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    d1, d2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    e1, e2 = d1 + 0.7 * w1, d2 + 0.7 * w2
    _, cache = l2_forward((w1, w2), 0.7)
    l2_backward(cache, (d1, d2))
    np.testing.assert_allclose(d1, e1, rtol=1e-12)
    np.testing.assert_allclose(d2, e2, rtol=1e-12)
