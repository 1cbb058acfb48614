"""First-order update rules, applied in place: vanilla SGD, SGD with momentum (and Nesterov), RMSprop, Adam.

Each optimizer keeps its per-parameter state (velocity, moments, scratch) keyed by parameter name,
so one instance serves a whole model: `opt.step(params, grads, lr)`. The learning rate is not
part of an optimizer: the Solver's schedule gives it, epoch by epoch.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np


def checked_array(state: dict[str, np.ndarray], key: str, shape: tuple[int, ...], dtype: Any, what: str) -> np.ndarray:
    """state[key], checked for presence, shape and (when given) dtype; ValueError names the key."""
    if key not in state:
        raise ValueError(f"{what}: missing array {key!r}")
    a = np.asarray(state[key])
    if a.shape != tuple(shape):
        raise ValueError(f"{what}: array {key!r} has shape {a.shape}, expected {tuple(shape)}")
    if dtype is not None and a.dtype != dtype:
        raise ValueError(f"{what}: array {key!r} has dtype {a.dtype}, expected {np.dtype(dtype)}")
    return a


class Optimizer:
    """Base class: `step` updates every array of `params` in place from `grads`.

    Subclasses name their per-parameter state: `slots`, arrays shaped like the parameter, and
    `counters`, integers (both carry over between steps and are saved by `state_dict`), and
    `scratch`, work buffers overwritten before being read (never saved).
    """

    slots: tuple[str, ...] = ()
    counters: tuple[str, ...] = ()
    scratch: tuple[str, ...] = ("scratch",)

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}

    def _slot(self, name: str, w: np.ndarray) -> dict[str, Any]:
        slot = self.state.get(name)
        if slot is None:
            slot = self.state[name] = {k: np.zeros_like(w) for k in self.slots + self.scratch}
            slot.update(dict.fromkeys(self.counters, 0))
        return slot

    def state_dict(self) -> dict[str, np.ndarray]:
        """The carried-over state as arrays keyed '<param>/<slot>' (empty before the first step)."""
        out: dict[str, np.ndarray] = {}
        for name, slot in self.state.items():
            for k in self.slots:
                out[f"{name}/{k}"] = slot[k].copy()
            for k in self.counters:
                out[f"{name}/{k}"] = np.array(slot[k], dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> None:
        """Restore `state_dict()` output for `params`; ValueError names a missing or mis-shaped array.

        An empty `state` means no step was taken yet.
        """
        keys = [f"{name}/{k}" for name in params for k in self.slots + self.counters]
        unknown = sorted(set(state) - set(keys))
        if unknown:
            raise ValueError(f"optimizer state: unexpected array(s) {', '.join(unknown)} for {type(self).__name__}")
        new: dict[str, dict[str, Any]] = {}
        for name, w in params.items() if state else ():
            slot = new[name] = {k: np.zeros_like(w) for k in self.scratch}
            for k in self.slots:
                slot[k] = checked_array(state, f"{name}/{k}", w.shape, w.dtype, "optimizer state").copy()
            for k in self.counters:
                slot[k] = int(checked_array(state, f"{name}/{k}", (), None, "optimizer state"))
        self.state = new

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        for name, w in params.items():
            self.update(name, w, grads[name], lr)

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w -= lr * dw (the assignment's rule)."""

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        scratch = self._slot(name, w)["scratch"]
        np.multiply(dw, lr, out=scratch)
        w -= scratch


class Momentum(Optimizer):
    """v = mu * v - lr * dw; w += v. Its subclass Nesterov uses the look-ahead form
    w += -mu * v_prev + (1 + mu) * v (as in CS231n)."""

    slots = ("v",)
    nesterov = False

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__()
        self.momentum = float(momentum)
        # v_prev is a copy of v taken at the start of each step: scratch, not state.
        self.scratch = ("scratch", "v_prev") if self.nesterov else ("scratch",)

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        slot = self._slot(name, w)
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

    slots = ("m", "v")
    counters = ("t",)

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        slot = self._slot(name, w)
        slot["t"] = t = slot["t"] + 1
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


class Nesterov(Momentum):
    """Momentum with the Nesterov look-ahead."""

    nesterov = True


class RMSprop(Optimizer):
    """cache = decay_rate * cache + (1 - decay_rate) * dw**2; w -= lr * dw / (sqrt(cache) + epsilon)."""

    slots = ("cache",)

    def __init__(self, decay_rate: float = 0.99, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.decay_rate, self.epsilon = float(decay_rate), float(epsilon)

    def update(self, name: str, w: np.ndarray, dw: np.ndarray, lr: float) -> None:
        slot = self._slot(name, w)
        cache, s = slot["cache"], slot["scratch"]
        cache *= self.decay_rate
        np.multiply(dw, dw, out=s)
        s *= 1.0 - self.decay_rate
        cache += s
        np.sqrt(cache, out=s)
        s += self.epsilon
        np.divide(dw, s, out=s)
        s *= lr
        w -= s


# update_rule -> class: the choices of params.yaml's train.update_rule.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "rmsprop": RMSprop, "adam": Adam,
}
UPDATE_RULES = tuple(OPTIMIZERS)
# Other names the assignment's Solver accepts for a rule: CS231n calls momentum 'sgd_momentum'.
ALIASES = {"sgd_momentum": "momentum"}


def optimizer_class(update_rule: str) -> type[Optimizer]:
    """The class of `update_rule` (a key of OPTIMIZERS or ALIASES); ValueError names the choices."""
    cls = OPTIMIZERS.get(ALIASES.get(update_rule, update_rule))
    if cls is None:
        raise ValueError(f"update_rule {update_rule!r} is not one of {', '.join([*OPTIMIZERS, *ALIASES])}")
    return cls


def hyperparameters(update_rule: str) -> tuple[str, ...]:
    """The keyword hyperparameters the rule's optimizer takes (e.g. ('beta1', 'beta2', 'epsilon'))."""
    return tuple(p for p in inspect.signature(optimizer_class(update_rule).__init__).parameters if p != "self")


def make_optimizer(update_rule: str, **options: Any) -> Optimizer:
    """The optimizer named by `update_rule` (a key of OPTIMIZERS or ALIASES) with the given hyperparameters.

    Options the rule does not take are refused, naming them and the ones it takes.
    """
    names = hyperparameters(update_rule)
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ValueError(f"update_rule {update_rule!r} takes no {', '.join(unknown)}; "
                         f"it takes {', '.join(names) or 'no options'}")
    return optimizer_class(update_rule)(**options)
