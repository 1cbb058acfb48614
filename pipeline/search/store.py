"""Trial store: finished trials and running trials' last epoch checkpoints, keyed by what determines them.

A trial's key is the SHA-256 of its full training config, the training and validation data, and the
source of the training code. Anything else in the folder (other configs, other data, older code) is
never read, so a store can only save time, never change a result. Layout: `<key>.npz` holds a
finished trial (best parameters + a JSON summary), `<key>.ckpt.npz` the checkpoint of a trial in
flight (written by the worker after each epoch). Clearing it is `rm -rf` of the folder.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.common.closure import import_closure
from pipeline.nn.npz import load_npz, save_npz
from pipeline.persistence import data_fingerprint
from pipeline.search import trial as trial_module
from pipeline.training import TrainParams

DEFAULT_DIR = ".search_store"
FORMAT = "search-trial/1"
TRIAL_CODE = "pipeline/search/trial.py"  # where the closure that keys a trial starts


def code_fingerprint(root: str | os.PathLike | None = None) -> str:
    """SHA-256 of the training code: every file of the import closure of the trial code
    (`pipeline/search/trial.py`), the same closure dvc.yaml's code deps are made of.

    `root` is the tree holding `pipeline/` (default: the one this module was imported from). Paths and
    bytes both count, so moving, adding or editing any module a trial runs changes the key; a module
    that cannot be found is an error (ImportClosureError), never left out. The default tree's hash is
    computed once per process (a Dask worker checks it before every trial).
    """
    if root is None:
        return _own_code_fingerprint()
    return _hash_closure(Path(root).resolve())


@functools.cache
def _own_code_fingerprint() -> str:
    return _hash_closure(Path(trial_module.__file__).resolve().parents[2])


def _hash_closure(root: Path) -> str:
    h = hashlib.sha256()
    for path in import_closure([root / TRIAL_CODE], root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def data_digest(data: dict[str, np.ndarray]) -> str:
    """SHA-256 of the training and validation images and labels."""
    return hashlib.sha256((data_fingerprint(data["X_train"], data["y_train"])
                           + data_fingerprint(data["X_val"], data["y_val"])).encode()).hexdigest()


def trial_key(config: TrainParams, data_sha: str, code_sha: str) -> str:
    """The store key of one trial: a hash of everything that determines its result."""
    blob = json.dumps({"config": dataclasses.asdict(config), "data": data_sha, "code": code_sha}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class TrialStore:
    """A folder of finished trials and in-flight checkpoints (see the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).absolute()

    def checkpoint_path(self, key: str) -> str:
        """Where a worker keeps the last epoch checkpoint of the trial `key`."""
        return str(self.root / f"{key}.ckpt.npz")

    def load(self, key: str) -> dict[str, Any] | None:
        """The finished trial `key` (summary dict with its 'params'), or None if absent or unreadable."""
        path = self.root / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            arrays = load_npz(path, required={"summary": "the trial summary"})
            summary = json.loads(str(arrays.pop("summary")[()]))
        except (ValueError, OSError):
            return None  # a damaged entry is retrained, not trusted
        if summary.get("format") != FORMAT or summary.get("key") != key:
            return None
        summary["params"] = arrays or None
        return summary

    def save(self, key: str, summary: dict[str, Any], params: dict[str, np.ndarray] | None) -> None:
        """Record a finished trial atomically and drop its checkpoint."""
        arrays = dict(params or {})
        arrays["summary"] = np.array(json.dumps({**summary, "format": FORMAT, "key": key}, sort_keys=True))
        save_npz(self.root / f"{key}.npz", arrays)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.checkpoint_path(key))
