"""Weight averaging over the tail of training (Polyak / stochastic weight averaging, per iteration).

`TailAveraging` wraps any optimizer: it steps as the wrapped one does and, from step `start` on,
keeps the running mean of every parameter after each step. It is an Optimizer, so the Solver
needs no hook and its checkpoints carry the average (state_dict keys 'average/<param>' and
'average/steps' beside the wrapped optimizer's own).
"""
from __future__ import annotations

import numpy as np

from .optim import Optimizer, checked_array


class TailAveraging(Optimizer):
    """`inner`'s update, plus the mean of the parameters over steps start+1, start+2, ... (1-based)."""

    def __init__(self, inner: Optimizer, start: int) -> None:
        super().__init__()
        if start < 0:
            raise ValueError(f"averaging start step {start!r} must be >= 0")
        self.inner, self.start = inner, int(start)
        self.steps = 0  # optimizer steps taken
        self.average: dict[str, np.ndarray] = {}
        self._scratch: dict[str, np.ndarray] = {}

    @property
    def averaged_steps(self) -> int:
        return max(self.steps - self.start, 0)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        self.inner.step(params, grads, lr)
        self.steps += 1
        n = self.steps - self.start
        if n <= 0:
            return
        for name, w in params.items():
            avg = self.average.get(name)
            if avg is None:  # n == 1: the first averaged step
                self.average[name] = w.copy()
                self._scratch[name] = np.empty_like(w)
                continue
            # avg += (w - avg) / n, in place: a running mean, no growing sum to lose precision in.
            scratch = self._scratch[name]
            np.subtract(w, avg, out=scratch)
            scratch *= w.dtype.type(1.0 / n)
            avg += scratch

    def state_dict(self) -> dict[str, np.ndarray]:
        out = self.inner.state_dict()
        for name, avg in self.average.items():
            out[f"average/{name}"] = avg.copy()
        out["average/steps"] = np.array(self.steps, dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> None:
        own = {k: v for k, v in state.items() if k.startswith("average/")}
        steps = int(checked_array(own, "average/steps", (), None, "optimizer state")) if state else 0
        n = max(steps - self.start, 0)
        average = {name: checked_array(own, f"average/{name}", w.shape, w.dtype, "optimizer state").copy()
                   for name, w in params.items()} if n else {}
        extra = sorted(set(own) - {"average/steps"} - {f"average/{k}" for k in average})
        if extra:
            raise ValueError(f"optimizer state: unexpected array(s) {', '.join(extra)} for TailAveraging")
        self.inner.load_state_dict({k: v for k, v in state.items() if not k.startswith("average/")}, params)
        self.steps, self.average = steps, average
        self._scratch = {k: np.empty_like(v) for k, v in average.items()}

    def swap_in(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Copy the average into `params` (in place); returns the parameters it replaced."""
        if not self.average:
            raise ValueError("no average yet: training has not reached the averaging window")
        old = {k: v.copy() for k, v in params.items()}
        for k, v in self.average.items():
            np.copyto(params[k], v)
        return old

