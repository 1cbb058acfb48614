"""Numerical gradients by centered differences (CS231n style) and the relative error used to compare them.

Shared by the test modules; not a test module itself.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar function `f` at `x`, one entry at a time.

    `x` is perturbed in place (and restored), so `f` may read it through any alias, e.g. a model's
    parameter dict.
    """
    return eval_numerical_gradient_array(f, x, np.float64(1.0), h)


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of sum(f(x) * df) with respect to `x`, for an array-valued `f` (backprop check)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Maximum elementwise relative error, max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    assert x.shape == y.shape, f"shapes differ: {x.shape} vs {y.shape}"
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
