"""Save and load a TwoLayerNet as .npz: the arrays plus a JSON metadata entry; never pickle."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.nn.npz import load_npz, save_npz
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.preprocess import Preprocessor

FORMAT = "twolayernet-npz/1"
PARAM_NAMES = ("W1", "b1", "W2", "b2")


class ModelFileError(PipelineError, ValueError):
    """A model file is unreadable, incomplete or inconsistent."""


def data_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the training images and labels (shape, dtype and bytes)."""
    h = hashlib.sha256()
    for a in (images, labels):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save_model(path: str | os.PathLike, model: TwoLayerNet, extra: dict[str, Any] | None = None) -> None:
    """Write the model's parameters and metadata (dims, dtype, preprocessing, `extra`) atomically."""
    meta = {
        "format": FORMAT,
        "input_dim": model.input_dim,
        "hidden_dim": model.hidden_dim,
        "num_classes": model.num_classes,
        "dtype": model.dtype.name,
        "reg": model.reg,
        "preprocessing": model.preprocessor.describe(),
        **(extra or {}),
    }
    arrays = {k: model.params[k] for k in PARAM_NAMES}
    if model.preprocessor.mean is not None:
        arrays["preprocess_mean"] = model.preprocessor.mean
    arrays["metadata"] = np.array(json.dumps(meta, sort_keys=True))
    save_npz(path, arrays)


def load_model(path: str | os.PathLike) -> tuple[TwoLayerNet, dict[str, Any]]:
    """Load a model saved by `save_model`; returns (model, metadata). Checks every shape and dtype."""
    path = Path(path)
    try:
        arrays = load_npz(path, required={**{k: "a network parameter" for k in PARAM_NAMES},
                                          "metadata": "the JSON metadata"},
                          expected="a model file written by the train or search stage")
    except ValueError as exc:
        raise ModelFileError(str(exc)) from exc
    try:
        meta = json.loads(str(arrays["metadata"][()]))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: metadata format is {meta.get('format') if isinstance(meta, dict) else meta!r}, "
                             f"expected {FORMAT!r}")
    try:
        d, h, c, dtype = int(meta["input_dim"]), int(meta["hidden_dim"]), int(meta["num_classes"]), np.dtype(meta["dtype"])
        mode = meta["preprocessing"]["mode"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: metadata lacks or garbles {exc}") from exc
    expected = {"W1": (d, h), "b1": (h,), "W2": (h, c), "b2": (c,)}
    for name, shape in expected.items():
        a = arrays[name]
        if a.shape != shape or a.dtype != dtype:
            raise ModelFileError(f"{path}: {name} has shape {a.shape} and dtype {a.dtype}; "
                                 f"metadata says {shape} and {dtype}")
    mean = arrays.get("preprocess_mean")
    if mean is not None and mean.shape != (d,):
        raise ModelFileError(f"{path}: preprocess_mean has shape {mean.shape}, expected ({d},)")
    try:
        pre = Preprocessor(mode, mean)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    params = {k: np.ascontiguousarray(arrays[k]) for k in PARAM_NAMES}
    model = TwoLayerNet(d, h, c, reg=float(meta.get("reg", 0.0)), dtype=dtype, preprocessor=pre, params=params)
    return model, meta
