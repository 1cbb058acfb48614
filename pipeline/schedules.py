"""Learning-rate schedules: the learning rate to use during each epoch (0-based)."""
from __future__ import annotations

import math
from typing import Callable

SCHEDULES = ("exponential", "cosine", "step")


def make_schedule(
    name: str,
    base_lr: float,
    num_epochs: int,
    lr_decay: float = 1.0,
    step_size: int = 1,
    gamma: float = 0.1,
    lr_min: float = 0.0,
) -> Callable[[int], float]:
    """Return epoch -> learning rate.

    exponential: base_lr * lr_decay**epoch (the assignment's per-epoch multiplicative decay;
                 lr_decay 1.0 is a constant rate);
    cosine:      lr_min + (base_lr - lr_min) * (1 + cos(pi * epoch / num_epochs)) / 2;
    step:        base_lr * gamma**(epoch // step_size).
    """
    if name == "exponential":
        return lambda epoch: base_lr * lr_decay**epoch
    if name == "cosine":
        return lambda epoch: lr_min + (base_lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * epoch / num_epochs))
    if name == "step":
        return lambda epoch: base_lr * gamma ** (epoch // step_size)
    raise ValueError(f"schedule {name!r} is not one of {', '.join(SCHEDULES)}")
