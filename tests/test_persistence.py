"""pipeline.persistence: model save/load round trip, determinism and rejection of bad files."""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from pipeline.nn.npz import load_npz, save_npz
from pipeline.nn.model import TwoLayerNet
from pipeline.persistence import FORMAT, ModelFileError, data_fingerprint, load_model, save_model
from pipeline.nn.preprocess import Preprocessor

PARAMS = ("W1", "b1", "W2", "b2")


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 20), dtype=np.uint8)


def make_model(images, mode="unit_centered", dtype=np.float32):
    model = TwoLayerNet(20, 8, 5, weight_scale=0.1, reg=0.25, dtype=dtype, seed=4,
                        preprocessor=Preprocessor.fit(mode, images))
    model.params["b1"][:] = np.linspace(-0.1, 0.1, 8)  # non-zero biases survive the round trip too
    model.params["b2"][:] = np.linspace(0.2, -0.2, 5)
    return model


@pytest.fixture
def saved(tmp_path, images):
    path = tmp_path / "model.npz"
    save_model(path, make_model(images))
    return path


@pytest.mark.parametrize("mode", ["raw", "unit", "unit_centered"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(tmp_path, images, mode, dtype):
    model = make_model(images, mode, dtype)
    path = tmp_path / "m.npz"
    save_model(path, model, extra={"seed": 4, "note": "test"})
    loaded, meta = load_model(path)
    for k in PARAMS:
        assert loaded.params[k].dtype == np.dtype(dtype)
        assert loaded.params[k].tobytes() == model.params[k].tobytes()
    assert loaded.dtype == np.dtype(dtype)
    assert (loaded.input_dim, loaded.hidden_dim, loaded.num_classes) == (20, 8, 5)
    assert loaded.reg == 0.25
    assert loaded.preprocessor.mode == mode
    if mode == "unit_centered":
        assert loaded.preprocessor.mean.tobytes() == model.preprocessor.mean.tobytes()
    else:
        assert loaded.preprocessor.mean is None
    np.testing.assert_array_equal(loaded.predict(images), model.predict(images))
    assert meta["format"] == FORMAT
    assert meta["seed"] == 4 and meta["note"] == "test"
    assert meta["preprocessing"]["mode"] == mode


def test_files_readable_without_pickle(saved):
    with np.load(saved, allow_pickle=False) as npz:
        names = set(npz.files)
        assert {"W1", "b1", "W2", "b2", "metadata", "preprocess_mean"} <= names
        meta = json.loads(str(npz["metadata"][()]))
        assert all(npz[n].dtype != object for n in names)
    assert meta["format"] == FORMAT


def test_saving_twice_is_byte_identical(tmp_path, images, monkeypatch):
    model = make_model(images)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_model(a, model)
    # a later clock for the second save (np.savez would stamp the zip entries with it)
    later = time.time() + 3600.0
    real_localtime = time.localtime
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "localtime", lambda secs=None: real_localtime(later if secs is None else secs))
    save_model(b, model)
    assert a.read_bytes() == b.read_bytes()
    # and identical to a fresh copy of the same network
    c = tmp_path / "c.npz"
    save_model(c, make_model(images))
    assert a.read_bytes() == c.read_bytes()


def test_different_models_give_different_files(tmp_path, images):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_model(a, make_model(images))
    other = make_model(images)
    other.params["W2"][0, 0] += 1.0
    save_model(b, other)
    assert a.read_bytes() != b.read_bytes()


def _assert_rejected(path, *words):
    with pytest.raises(ModelFileError, match=f"^{re.escape(str(path))}: ") as info:
        load_model(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_truncated_file_rejected(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    _assert_rejected(saved)


def test_text_file_rejected(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("this is not a model\n")
    _assert_rejected(path)


def test_missing_array_rejected(saved):
    arrays = load_npz(saved)
    del arrays["W2"]
    save_npz(saved, arrays)
    _assert_rejected(saved, "W2")


def test_wrong_shape_rejected(saved):
    arrays = load_npz(saved)
    arrays["W1"] = np.zeros((20, 9), dtype=np.float32)  # metadata says (20, 8)
    save_npz(saved, arrays)
    _assert_rejected(saved, "W1")


def test_wrong_dtype_rejected(saved):
    arrays = load_npz(saved)
    arrays["b2"] = arrays["b2"].astype(np.float64)  # metadata says float32
    save_npz(saved, arrays)
    _assert_rejected(saved, "b2")


def test_wrong_mean_shape_rejected(saved):
    arrays = load_npz(saved)
    arrays["preprocess_mean"] = np.zeros(7)
    save_npz(saved, arrays)
    _assert_rejected(saved, "preprocess_mean")


def test_bad_metadata_json_rejected(saved):
    arrays = load_npz(saved)
    arrays["metadata"] = np.array("{not json")
    save_npz(saved, arrays)
    _assert_rejected(saved, "JSON")


def test_wrong_format_rejected(saved):
    arrays = load_npz(saved)
    meta = json.loads(str(arrays["metadata"][()]))
    meta["format"] = "something-else/9"
    arrays["metadata"] = np.array(json.dumps(meta))
    save_npz(saved, arrays)
    _assert_rejected(saved, "something-else/9")


def test_metadata_missing_dims_rejected(saved):
    arrays = load_npz(saved)
    meta = json.loads(str(arrays["metadata"][()]))
    del meta["hidden_dim"]
    arrays["metadata"] = np.array(json.dumps(meta))
    save_npz(saved, arrays)
    _assert_rejected(saved, "hidden_dim")


def test_unit_centered_without_mean_rejected(saved):
    arrays = load_npz(saved)
    del arrays["preprocess_mean"]
    save_npz(saved, arrays)
    _assert_rejected(saved, "unit_centered")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


def test_data_fingerprint(images):
    labels = np.arange(30) % 5
    fp = data_fingerprint(images, labels)
    assert fp == data_fingerprint(images.copy(), labels.copy())
    assert len(fp) == 64 and all(ch in "0123456789abcdef" for ch in fp)
    changed = images.copy()
    changed[0, 0] ^= 1
    assert data_fingerprint(changed, labels) != fp
    assert data_fingerprint(images, labels[::-1].copy()) != fp
    assert data_fingerprint(images, labels.astype(np.int32)) != fp  # dtype counts too
