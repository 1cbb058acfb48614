"""Learning-rate schedules: objects giving the learning rate of each epoch (0-based); they own the base rate."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Exponential:
    """lr * lr_decay**epoch: the assignment's per-epoch multiplicative decay (lr_decay 1.0: constant)."""

    lr: float
    lr_decay: float = 1.0

    def __call__(self, epoch: int) -> float:
        return self.lr * self.lr_decay**epoch


@dataclass(frozen=True)
class Cosine:
    """lr_min + (lr - lr_min) * (1 + cos(pi * epoch / num_epochs)) / 2: from lr down to lr_min."""

    lr: float
    num_epochs: int
    lr_min: float = 0.0

    def __call__(self, epoch: int) -> float:
        return self.lr_min + (self.lr - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * epoch / self.num_epochs))


@dataclass(frozen=True)
class Step:
    """lr * gamma**(epoch // step_size)."""

    lr: float
    step_size: int = 1
    gamma: float = 0.1

    def __call__(self, epoch: int) -> float:
        return self.lr * self.gamma ** (epoch // self.step_size)


Schedule = Exponential | Cosine | Step
SCHEDULES: dict[str, type] = {"exponential": Exponential, "cosine": Cosine, "step": Step}


def fields(name: str) -> tuple[str, ...]:
    """The arguments the schedule `name` takes (its dataclass fields)."""
    cls = SCHEDULES.get(name)
    if cls is None:
        raise ValueError(f"schedule {name!r} is not one of {', '.join(SCHEDULES)}")
    return tuple(f.name for f in dataclasses.fields(cls))


def make_schedule(name: str, **options: Any) -> Schedule:
    """The schedule `name` (a key of SCHEDULES) with the given fields; unknown ones are refused, named."""
    names = fields(name)
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ValueError(f"schedule {name!r} takes no {', '.join(unknown)}; it takes {', '.join(names)}")
    return SCHEDULES[name](**options)
