"""A restricted unpickler that can rebuild numpy arrays and nothing else.

The packaged MNIST pickle (a Python 2 pickle, hence latin-1) asks only for
numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype. Any other global, such as
os.system, is refused before it is looked up, so loading the file can never run other code.
"""
from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path
from typing import IO, Any

import numpy as np

from pipeline.data.errors import UnsafePickleError

# numpy 2 renamed numpy.core to numpy._core; resolve both names directly so the deprecated
# numpy.core shim is never imported.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler whose `find_class` admits only `ALLOWED_GLOBALS`; `source` names the file in errors."""

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise UnsafePickleError(
                f"{self.source}: pickle refers to {module}.{name}, which is refused; only numpy array "
                f"rebuilders are allowed ({allowed})"
            ) from None


def load_numpy_pickle(path: str | os.PathLike) -> Any:
    """Load a (gzip-compressed if the name ends in .gz) pickle that may contain only numpy arrays.

    Object arrays are refused too: they could only come from a pickle not meant for this loader.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            obj = NumpyOnlyUnpickler(f, str(path)).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError) as exc:
        raise UnsafePickleError(f"{path}: not a readable numpy pickle ({type(exc).__name__}: {exc})") from exc
    _refuse_object_arrays(obj, str(path))
    return obj


def _refuse_object_arrays(obj: Any, source: str) -> None:
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError(f"{source}: pickle holds an object array; only numeric arrays are allowed")
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _refuse_object_arrays(item, source)
    elif isinstance(obj, dict):
        for item in obj.values():
            _refuse_object_arrays(item, source)
