"""Plan checks: before training, refuse a run that cannot fit, naming the setting to change.

The estimate counts what a run holds at its peak: the parameters with their gradients, best copy
and optimizer state; the minibatch and evaluation buffers; and the histories, which grow by one
loss per iteration (kept, then written as iterations.csv). It is compared with the memory this
process may still use (free memory, a cgroup limit, RLIMIT_AS, whichever is least).
"""
from __future__ import annotations

import os
import resource
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pipeline.errors import PipelineError, shorten
from pipeline.nn.loop import LoopSettings
from pipeline.nn.model import DTYPES, NUM_CLASSES
from pipeline.nn.optim import OPTIMIZERS

# Per iteration: its loss in the history, then its row of iterations.csv as Python objects and text.
HISTORY_BYTES_PER_ITERATION = 256


class PlanError(PipelineError, ValueError):
    """A training plan does not fit (memory, sizes); the message names the setting."""


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def _cgroup_available() -> int | None:
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            current = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - current, 0)


def _rlimit_available() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, ValueError, StopIteration):
        used = 0
    return max(soft - used, 0)


def available_memory() -> int | None:
    """Bytes this process may still allocate: the least of free memory, cgroup room and RLIMIT_AS room."""
    known = [v for v in (_meminfo_available(), _cgroup_available(), _rlimit_available()) if v is not None]
    return min(known) if known else None


def human(nbytes: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def estimate(config: Any, train_shape: Sequence[int]) -> dict[str, tuple[str, int, str]]:
    """Peak memory of a run by the setting that drives each part: {setting: (what, bytes, detail)}."""
    n, d = int(train_shape[0]), int(train_shape[1])
    s = np.dtype(DTYPES[config.dtype]).itemsize if config.dtype in DTYPES else 8
    h, c = int(config.hidden_dim), NUM_CLASSES
    batch = max(min(int(config.batch_size), n), 1)
    # Capped so that absurd settings (10**4000 epochs) still give finite floats below.
    iterations = min(int(config.num_epochs) * max(n // batch, 1), 10**18)
    n_params = d * h + h + h * c + c
    optimizer = OPTIMIZERS.get(config.update_rule)
    states = 2 if optimizer is None else len(optimizer.slots)
    copies = 3 + states  # params, grads, best copy, optimizer state
    eval_rows = min(LoopSettings.eval_batch_size, max(n, 1))
    return {
        "num_epochs": ("loss history", iterations * HISTORY_BYTES_PER_ITERATION, f"{iterations:,} iterations"),
        "hidden_dim": ("parameters and activations",
                       copies * n_params * s + eval_rows * (d + 3 * h + 3 * c) * s,
                       f"{n_params:,} parameters"),
        "batch_size": ("minibatch buffers", batch * (d * (s + 1) + 4 * h * s + 3 * c * s), f"{batch:,} images"),
    }


def check_plan(config: Any, train_shape: Sequence[int], where: str | Callable[[str], str],
               available: int | None = None, copies: int = 1) -> None:
    """Raise PlanError if the run of `config` on training images of `train_shape` cannot fit.

    `where` names the settings in the message: a prefix ("params.yaml:train") or a function of the key.
    `available` defaults to `available_memory()`; `copies` is how many such runs share it.
    """
    name = where if callable(where) else (lambda key: f"{where}.{key}")
    parts = estimate(config, train_shape)
    total = copies * sum(size for _, size, _ in parts.values())
    room = available_memory() if available is None else available
    if room is None or total <= room:
        return
    key, (what, size, detail) = max(parts.items(), key=lambda item: item[1][1])
    raise PlanError(
        f"{name(key)} = {shorten(getattr(config, key))} is too large: the run needs about {human(total)} of memory "
        f"({human(size)} for its {what}, {detail}), more than the {human(room)} available; lower it"
    )


def check_search_plan(params: Any, train_shape: Sequence[int], where: str, available: int | None = None) -> None:
    """`check_plan` for every trial of a grid search (SearchParams); a grid key is named under
    `<where>.grid`, any other setting under `<where>.base`."""
    grid: Mapping[str, Any] = params.grid
    for config in params.trials(where):
        check_plan(config, train_shape, lambda key: f"{where}.{'grid' if key in grid else 'base'}.{key}", available)
