"""Restricted unpickler: numpy arrays load; any other global is refused before it can run."""
from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from pipeline.data.errors import DataError, UnsafePickleError
from pipeline.data.unpickle import load_numpy_pickle


@pytest.mark.parametrize("protocol", [3, 4])
def test_loads_numpy_arrays(tmp_path, protocol: int) -> None:
    obj = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64)),)
    path = tmp_path / "a.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(obj, protocol=protocol)))
    (x, y), = load_numpy_pickle(path)
    np.testing.assert_array_equal(x, obj[0][0])
    np.testing.assert_array_equal(y, obj[0][1])


def test_refuses_os_system_without_running_it(tmp_path) -> None:
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    path = tmp_path / "evil.pkl"
    path.write_bytes(payload)
    with pytest.raises(UnsafePickleError, match=r"os\.system, which is refused") as exc:
        load_numpy_pickle(path)
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_refuses_builtins_eval_in_gzip(tmp_path) -> None:
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(b"cbuiltins\neval\n(S'1+1'\ntR."))
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        load_numpy_pickle(path)


def test_refuses_object_arrays(tmp_path) -> None:
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps(np.array([1, "a"], dtype=object), protocol=4))
    with pytest.raises(UnsafePickleError, match="object array"):
        load_numpy_pickle(path)


def test_truncated_gzip_pickle_is_a_data_error(tmp_path) -> None:
    path = tmp_path / "t.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(np.zeros(1000), protocol=4))[:-20])
    with pytest.raises(DataError, match="not a readable numpy pickle") as exc:
        load_numpy_pickle(path)
    assert str(path) in str(exc.value)
