"""First-order update rules, applied in place: vanilla SGD, SGD with momentum (and Nesterov), Adam.

Each optimizer keeps its per-parameter state (velocity, moments, scratch) keyed by parameter name,
so one instance serves a whole model: `opt.step(params, grads, lr)`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

UPDATE_RULES = ("sgd", "momentum", "nesterov", "adam")


class Optimizer:
    """Base class: `step` updates every array of `params` in place from `grads`."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}

    def _slot(self, name: str, w: np.ndarray, *keys: str) -> dict[str, Any]:
        slot = self.state.get(name)
        if slot is None:
            slot = self.state[name] = {k: np.zeros_like(w) for k in keys}
        return slot

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        for name, w in params.items():
            self.update(name, w, grads[name], lr)

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w -= lr * dw (the assignment's rule)."""

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        scratch = self._slot(name, w, "scratch")["scratch"]
        np.multiply(dw, lr, out=scratch)
        w -= scratch


class Momentum(Optimizer):
    """v = mu * v - lr * dw; w += v. With `nesterov`, the look-ahead form
    w += -mu * v_prev + (1 + mu) * v (as in CS231n)."""

    def __init__(self, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__()
        self.momentum, self.nesterov = float(momentum), nesterov

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        slot = self._slot(name, w, "v", "scratch", *(("v_prev",) if self.nesterov else ()))
        v, s, mu = slot["v"], slot["scratch"], self.momentum
        if self.nesterov:
            np.copyto(slot["v_prev"], v)
        v *= mu
        np.multiply(dw, lr, out=s)
        v -= s
        if not self.nesterov:
            w += v
            return
        np.multiply(slot["v_prev"], mu, out=s)
        w -= s
        np.multiply(v, 1.0 + mu, out=s)
        w += s


class Adam(Optimizer):
    """Adam with bias-corrected first and second moments."""

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        slot = self._slot(name, w, "m", "v", "scratch")
        slot["t"] = t = slot.get("t", 0) + 1
        m, v, s = slot["m"], slot["v"], slot["scratch"]
        b1, b2 = self.beta1, self.beta2
        m *= b1
        np.multiply(dw, 1.0 - b1, out=s)
        m += s
        v *= b2
        np.multiply(dw, dw, out=s)
        s *= 1.0 - b2
        v += s
        # w -= lr_t * m / (sqrt(v) + eps_t): the bias corrections folded into two scalars.
        lr_t = lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        eps_t = self.epsilon * np.sqrt(1.0 - b2**t)
        np.sqrt(v, out=s)
        s += eps_t
        np.divide(m, s, out=s)
        s *= lr_t
        w -= s


def make_optimizer(update_rule: str, momentum: float = 0.9, beta1: float = 0.9, beta2: float = 0.999,
                   epsilon: float = 1e-8) -> Optimizer:
    """The optimizer named by `update_rule` (one of UPDATE_RULES)."""
    if update_rule == "sgd":
        return SGD()
    if update_rule in ("momentum", "nesterov"):
        return Momentum(momentum, nesterov=update_rule == "nesterov")
    if update_rule == "adam":
        return Adam(beta1, beta2, epsilon)
    raise ValueError(f"update_rule {update_rule!r} is not one of {', '.join(UPDATE_RULES)}")
