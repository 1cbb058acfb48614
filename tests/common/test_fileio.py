"""pipeline.common.fileio: atomic writes and deterministic, pickle-free .npz files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.nn.npz import atomic_write, load_npz, save_npz

from pipeline.common.fileio import write_json, write_text


class Boom(RuntimeError):
    pass


def test_atomic_write_success(tmp_path):
    path = tmp_path / "sub" / "out.bin"  # parent folders are created
    with atomic_write(path) as f:
        f.write(b"hello")
    assert path.read_bytes() == b"hello"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.bin"]


def test_atomic_write_failure_leaves_nothing(tmp_path):
    path = tmp_path / "out.bin"
    with pytest.raises(Boom, match="^stop mid-write$"):
        with atomic_write(path) as f:
            f.write(b"half")
            raise Boom("stop mid-write")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_atomic_write_failure_keeps_old_content(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(Boom, match="^stop mid-write$"):
        with atomic_write(path, "w") as f:
            f.write("new")
            raise Boom("stop mid-write")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_text_mode_and_replace(tmp_path):
    path = tmp_path / "t.txt"
    write_text(path, "first\n")
    write_text(path, "second ✓\n")
    assert path.read_text(encoding="utf-8") == "second ✓\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_write_json_sorted_with_newline(tmp_path):
    path = tmp_path / "m.json"
    write_json(path, {"b": 1, "a": [1, 2]})
    text = path.read_text()
    assert text.endswith("}\n")
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1, 2], "b": 1}


@pytest.mark.parametrize("compress", [False, True])
def test_save_load_npz_round_trip(tmp_path, compress):
    arrays = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "y": np.array([1, 2], dtype=np.int64),
              "s": np.array("text")}
    path = tmp_path / "a.npz"
    save_npz(path, arrays, compress=compress)
    back = load_npz(path)
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k], v)
    with np.load(path, allow_pickle=False) as npz:  # plain numpy reads it without pickle
        np.testing.assert_array_equal(npz["x"], arrays["x"])


def test_save_npz_deterministic(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_npz(a, {"x": np.arange(5), "y": np.ones(3)})
    save_npz(b, {"y": np.ones(3), "x": np.arange(5)})  # insertion order does not matter
    assert a.read_bytes() == b.read_bytes()


def test_save_npz_refuses_object_arrays(tmp_path):
    path = tmp_path / "o.npz"
    with pytest.raises(TypeError, match="obj"):
        save_npz(path, {"ok": np.arange(3), "obj": np.array([{"a": 1}, None], dtype=object)})
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_load_npz_names_missing_required_array(tmp_path):
    path = tmp_path / "a.npz"
    save_npz(path, {"x": np.arange(3)})
    assert set(load_npz(path, required={"x": "the x values"})) == {"x"}
    with pytest.raises(ValueError, match=r"missing array 'labels' \(the class labels\)") as info:
        load_npz(path, required={"x": "the x values", "labels": "the class labels"})
    msg = str(info.value)
    assert "labels" in msg and "the class labels" in msg and str(path) in msg


def test_load_npz_missing_file(tmp_path):
    path = tmp_path / "none.npz"
    with pytest.raises(FileNotFoundError, match="none.npz"):
        load_npz(path)


def test_load_npz_rejects_garbage_naming_the_file(tmp_path):
    path = tmp_path / "g.npz"
    path.write_bytes(b"PK\x03\x04 garbage that is not really a zip")
    with pytest.raises(ValueError, match="g.npz"):
        load_npz(path)


def test_load_npz_refuses_pickled_arrays(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="p.npz"):
        load_npz(path)
