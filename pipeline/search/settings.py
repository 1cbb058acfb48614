"""params.yaml:search: the strategy, its candidates' settings, and how the trials are run."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

import numpy as np

from pipeline.common.params import ParamsError, allowing, choice, from_mapping, integer, number, param, section, text
from pipeline.search.store import DEFAULT_DIR
from pipeline.training import TrainParams

# A search ranks trials by their best validation accuracy and keeps that epoch's parameters, so `keep`
# is not a searchable key, and search.base.keep must stay "best".
GRID_KEYS = tuple(f.name for f in fields(TrainParams) if f.name not in ("seed", "keep"))
# Keys a random search may sample: floats log-uniformly, integers uniformly.
FLOAT_KEYS = tuple(f.name for f in fields(TrainParams) if f.type in ("float", float))
INT_KEYS = ("hidden_dim", "batch_size")
STRATEGIES = ("grid", "random", "halving")
# Keys that change how the search runs, never what it finds: dvc.yaml leaves them out of the search
# stage's params, so changing them does not rerun it.
RUNTIME_KEYS = ("search.workers", "search.executor", "search.dask", "search.store")
EXECUTORS = ("local", "serial", "dask")


def _grid_rule(where: str, value: Any) -> dict[str, tuple[Any, ...]]:
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} = {value!r} is not allowed: expected a mapping of train keys to lists of values")
    grid = {}
    for key, values in value.items():
        if key not in GRID_KEYS:
            raise ParamsError(f"{where}.{key} is not a training key; allowed: {', '.join(GRID_KEYS)}")
        if not isinstance(values, list) or not values:
            raise ParamsError(f"{where}.{key} = {values!r} is not allowed: expected a non-empty list")
        grid[key] = tuple(values)
    return grid


allowing("a mapping of train keys (not seed or keep) to non-empty lists of values", _grid_rule)


def _ranges_rule(where: str, value: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(value, Mapping) or not value:
        raise ParamsError(f"{where} = {value!r} is not allowed: expected a mapping of train keys to [low, high]")
    ranges = {}
    for key, span in value.items():
        if key not in FLOAT_KEYS + INT_KEYS:
            raise ParamsError(f"{where}.{key} cannot be sampled; allowed: {', '.join(FLOAT_KEYS + INT_KEYS)}")
        ok = (isinstance(span, list) and len(span) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in span) and 0 < span[0] <= span[1])
        if ok and key in INT_KEYS:
            ok = all(isinstance(v, int) for v in span)
        if not ok:
            kind = "integers" if key in INT_KEYS else "numbers"
            raise ParamsError(f"{where}.{key} = {span!r} is not allowed: expected [low, high], {kind} with 0 < low <= high")
        ranges[key] = (span[0], span[1]) if key in INT_KEYS else (float(span[0]), float(span[1]))
    return ranges


allowing("a mapping of train keys to [low, high], 0 < low <= high (integers for hidden_dim, batch_size)", _ranges_rule)


@dataclass(frozen=True)
class RandomParams:
    """search.random: how many configurations to sample, from which ranges, with which seed."""

    trials: int = param(integer(1, 100000), 20, "configurations to sample")
    seed: int = param(integer(0), 0, "seed of the sampler")
    ranges: dict[str, tuple[float, float]] = param(
        _ranges_rule, None, "train keys mapped to [low, high]: floats log-uniform, integers uniform")

    def __post_init__(self) -> None:
        if self.ranges is None:
            object.__setattr__(self, "ranges", {"lr": (1e-4, 1e-2), "hidden_dim": (50, 300), "reg": (1e-4, 1e-1)})


@dataclass(frozen=True)
class HalvingParams:
    """search.halving: synchronous successive halving over the grid's or the random candidates."""

    candidates: str = param(choice("grid", "random"), "grid", "where the candidates come from")
    min_epochs: int = param(integer(1), 2, "epochs of the first rung")
    eta: int = param(integer(2), 3, "each rung keeps 1/eta of the candidates and trains eta times longer")


def _store_rule(where: str, value: Any) -> str | bool | None:
    if value is None or value is False or (isinstance(value, str) and value):
        return value
    raise ParamsError(f"{where} = {value!r} is not allowed: expected a folder path, null (the default folder) "
                      f"or false (no store)")


allowing("a folder path, null (.search_store) or false (no store)", _store_rule)


@dataclass(frozen=True)
class DaskParams:
    """search.dask: where the scheduler is (does not change results)."""

    address: str | None = param(text(none_ok=True), None,
                                "scheduler address, e.g. tcp://10.0.0.1:8786; null = $DASK_SCHEDULER_ADDRESS")


@dataclass(frozen=True)
class SearchParams:
    """params.yaml:search: strategy and candidates, the training settings shared by every trial, the runtime."""

    grid: dict[str, tuple[Any, ...]] = param(_grid_rule, doc="train keys mapped to lists of values")
    base: TrainParams = param(section(TrainParams), doc="training settings shared by every trial")
    strategy: str = param(choice(*STRATEGIES), "grid", "grid | random | halving")
    random: RandomParams = param(section(RandomParams), RandomParams(), "random sampling")
    halving: HalvingParams = param(section(HalvingParams), HalvingParams(), "halving")
    workers: int = param(integer(0), 0, "worker processes; 0 = one per CPU core")
    executor: str = param(choice(*EXECUTORS), "local", "local process pool | serial (in-process) | dask")
    dask: DaskParams = param(section(DaskParams), DaskParams(), "Dask scheduler")
    store: str | bool | None = param(_store_rule, None,
                                     "trial store folder; null = .search_store, false = no store")

    def __post_init__(self) -> None:
        if self.base.keep != "best":
            raise ValueError(f"base.keep = {self.base.keep!r} is not allowed: a search ranks its trials by their best "
                             "validation accuracy and keeps that epoch's parameters; use 'best'")

    def trials(self, where: str = "params.yaml:search") -> list[TrainParams]:
        """The candidate configurations as validated configs, in trial order."""
        return self.grid_points(where) if self.source() == "grid" else self.random_points(where)

    def grid_points(self, where: str = "params.yaml:search") -> list[TrainParams]:
        """Every grid point, in grid order (the first key varies slowest)."""
        keys = list(self.grid)
        return [self.base.with_overrides(dict(zip(keys, combo)), f"{where}.grid{dict(zip(keys, combo))}")
                for combo in itertools.product(*(self.grid[k] for k in keys))]

    def random_points(self, where: str = "params.yaml:search") -> list[TrainParams]:
        """`random.trials` configurations sampled with `random.seed`.

        Floats are log-uniform and rounded to 4 significant digits (readable tables), integers uniform;
        keys are sampled in sorted order so the draw does not depend on the order they are written in.
        """
        rnd = self.random
        rng = np.random.default_rng(rnd.seed)
        configs = []
        for i in range(rnd.trials):
            values: dict[str, Any] = {}
            for key in sorted(rnd.ranges):
                lo, hi = rnd.ranges[key]
                if key in INT_KEYS:
                    values[key] = int(rng.integers(lo, hi + 1))
                else:
                    values[key] = float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}")
            configs.append(self.base.with_overrides(values, f"{where}.random[{i}]"))
        return configs

    def table_keys(self) -> list[str]:
        """Columns naming a trial: lr, hidden_dim and reg (the assignment's axes), then any other searched key."""
        searched = list(self.grid) if self.source() == "grid" else list(self.random.ranges)
        return list(dict.fromkeys([*searched, "lr", "hidden_dim", "reg"]))

    def store_folder(self, override: str | None = None) -> str | None:
        """The trial store's folder: `override` if given ('' = none), else search.store (null = the default)."""
        chosen = self.store if override is None else (override or False)
        if chosen is False:
            return None
        return DEFAULT_DIR if chosen is None else chosen

    def source(self) -> str:
        """Where the candidates come from: grid or random."""
        return self.halving.candidates if self.strategy == "halving" else self.strategy

    def check(self, where: str) -> None:
        """Validate every candidate now, before any training starts (called by from_mapping)."""
        self.trials(where)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "SearchParams":
        """Validated settings from a params mapping; `where` names it in errors."""
        return from_mapping(cls, data, where)
