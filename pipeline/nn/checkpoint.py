"""Solver checkpoints as .npz (never pickle): pause training after an epoch, continue it bit-identically."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pipeline.errors import InputFileError
from pipeline.nn.npz import load_npz, save_npz


class Stateful(Protocol):
    """What a checkpoint saves and restores: a Solver, or anything with the same two methods."""

    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...


FORMAT = "solver-checkpoint/1"
_META = "checkpoint"  # the entry holding {"format": FORMAT, "meta": ...} as JSON


def save_checkpoint(path: str | os.PathLike, solver: Stateful, meta: dict[str, Any] | None = None) -> None:
    """Write `solver.state_dict()` and the JSON-able `meta` to `path`, atomically.

    Identical state and meta give byte-identical files.
    """
    arrays = solver.state_dict()
    try:
        text = json.dumps({"format": FORMAT, "meta": meta or {}}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: checkpoint meta must be JSON-serialisable ({exc})") from exc
    arrays[_META] = np.array(text)
    save_npz(path, arrays)


def load_checkpoint(path: str | os.PathLike, solver: Stateful) -> dict[str, Any]:
    """Restore the checkpoint at `path` into `solver` (built with the same settings); returns its meta.

    Raises FileNotFoundError or ValueError naming the file and what was expected.
    """
    path = Path(path)
    try:
        arrays = load_npz(path, required={_META: f"the {FORMAT} header"})
    except FileNotFoundError:
        raise
    except ValueError as exc:
        # numpy's own reason (a bad zip, or advice to unpickle) stays in the chained traceback only
        why = "" if exc.__cause__ is not None else f": {str(exc).removeprefix(f'{path}: ')}"
        raise InputFileError(f"{path}: not a solver checkpoint (expected a {FORMAT} .npz written by "
                         f"save_checkpoint){why}") from exc
    header = arrays.pop(_META)
    try:
        info = json.loads(str(header[()])) if header.ndim == 0 else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or info.get("format") != FORMAT or not isinstance(info.get("meta"), dict):
        raise ValueError(f"{path}: checkpoint header is not a {FORMAT} JSON object; "
                         "expected a file written by pipeline.nn.checkpoint.save_checkpoint")
    try:
        solver.load_state_dict(arrays)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (does the Solver have the checkpoint's model shape and settings?)") from exc
    return info["meta"]
