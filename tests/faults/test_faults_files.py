"""Fault injection, files a user can swap: oversized, altered, or not what they claim to be.

Every case must end with a PipelineError whose message names the file and what was expected,
never a MemoryError, a traceback, or advice to load pickles.
"""
from __future__ import annotations

import gzip
import io
import json
import pickle
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.data import official
from pipeline.data.errors import ChecksumError, DataError, IdxError
from pipeline.data.sources import fetch_folder
from pipeline.data.split import SplitParams, load_prepared, prepare
from pipeline.errors import PipelineError
from pipeline.nn.npz import save_npz
from pipeline.common.fileio import read_csv_columns
from pipeline.nn.model import TwoLayerNet
from pipeline.common.params import ParamsError, read_params
from pipeline.persistence import load_model, save_model

GIB = 1 << 30


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of `size` bytes taking no disk space (a hole), starting with `head`."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def assert_refused_quickly(call, error=PipelineError, match: str | None = None, seconds: float = 2.0) -> str:
    start = time.monotonic()
    with pytest.raises(error, match=match) as info:
        call()
    assert time.monotonic() - start < seconds  # refused from its size: nothing was read
    message = str(info.value)
    assert "allow_pickle" not in message and "Traceback" not in message
    return message


# ---- oversized files: refused from their size, before any read ----

@pytest.mark.parametrize("name", official.NAMES)
@pytest.mark.parametrize("gz", [False, True])
def test_folder_source_refuses_an_oversized_file(tmp_path, tiny_raw_dir, name, gz):
    folder = tmp_path / "folder"
    shutil.copytree(tiny_raw_dir, folder)
    if gz:
        (folder / name).unlink()
    huge = sparse(folder / (name + (".gz" if gz else "")), 2 * GIB)
    message = assert_refused_quickly(lambda: fetch_folder(folder), DataError, "larger than any")
    assert str(huge) in message


@pytest.mark.parametrize("name", official.NAMES)
def test_split_refuses_an_oversized_raw_file(tmp_path, tiny_raw_dir, name):
    huge = sparse(tiny_raw_dir / name, 2 * GIB)
    message = assert_refused_quickly(
        lambda: prepare(tiny_raw_dir, tmp_path / "out", SplitParams(val_size=10), sha256=None), IdxError, "too large")
    assert str(huge) in message and "download" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("head", [b"", b"PK\x03\x04"], ids=["zeros", "zip-magic"])
def test_oversized_model_and_split_files_are_refused(tmp_path, head):
    model = sparse(tmp_path / "model.npz", 2 * GIB, head)
    assert str(model) in assert_refused_quickly(lambda: load_model(model))
    split = sparse(tmp_path / "train.npz", 2 * GIB, head)
    assert str(split) in assert_refused_quickly(lambda: load_prepared(split))


def test_npz_that_unpacks_to_too_much_is_refused_before_unpacking(tmp_path):
    from pipeline.nn.npz import load_npz

    path = tmp_path / "bomb.npz"
    save_npz(path, {"images": np.zeros(64 << 20, np.uint8)}, compress=True)  # 64 MiB in about 64 kB
    assert path.stat().st_size < 1 << 20
    message = assert_refused_quickly(lambda: load_npz(path, max_bytes=8 << 20), match="unpacks to")
    assert str(path) in message


def test_oversized_params_and_csv_are_refused(tmp_path):
    params = sparse(tmp_path / "params.yaml", 2 * GIB)
    assert str(params) in assert_refused_quickly(lambda: read_params(params), ParamsError, "too large")
    table = sparse(tmp_path / "epochs.csv", 2 * GIB)
    assert str(table) in assert_refused_quickly(lambda: read_csv_columns(table), match="too large")


# ---- altered raw data: refused naming the file and the fix ----

@pytest.fixture(scope="module")
def official_raw(packaged_raw) -> Path:
    return packaged_raw[0]


ALTERATIONS = {
    "flip_pixel": lambda b: b[:1000] + bytes([b[1000] ^ 0xFF]) + b[1001:],
    "flip_last_byte": lambda b: b[:-1] + bytes([b[-1] ^ 1]),
    "truncate": lambda b: b[:-784],
    "append": lambda b: b + b"\0",
    "swap_header": lambda b: b[:4] + (int.from_bytes(b[4:8], "big") - 1).to_bytes(4, "big") + b[8:],
    "empty": lambda b: b"",
}


@pytest.mark.parametrize("alteration", sorted(ALTERATIONS))
@pytest.mark.parametrize("name", official.NAMES)
def test_split_refuses_altered_raw_data(tmp_path, official_raw, name, alteration):
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in official.NAMES:
        (raw / n).symlink_to(official_raw / n)
    (raw / name).unlink()
    (raw / name).write_bytes(ALTERATIONS[alteration]((official_raw / name).read_bytes()))
    with pytest.raises(ChecksumError, match="altered or damaged: SHA-256") as info:
        prepare(raw, tmp_path / "out", SplitParams(), tmp_path / "split.json")
    message = str(info.value)
    assert message.startswith(f"{raw / name}: altered or damaged")
    assert message.endswith("rerun the download stage (dvc repro -f download)")
    assert not (tmp_path / "out").exists() and not (tmp_path / "split.json").exists()


# ---- files that are not what they claim: named, with what was expected, no pickle advice ----

def _not_npz_files(tmp_path: Path) -> dict[str, Path]:
    files = {}

    def put(name: str, data: bytes) -> None:
        files[name] = tmp_path / f"{name}.npz"
        files[name].write_bytes(data)

    put("empty", b"")
    put("text", b"W1,b1,W2,b2\n1,2,3,4\n")
    put("pickle", pickle.dumps({"W1": [1.0]}))
    put("pickle_gz", gzip.compress(pickle.dumps([1, 2, 3])))
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    put("npy", buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    put("npy_object", buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, W1=np.array([{"a": 1}], dtype=object))
    put("npz_object", buf.getvalue())
    put("zip_magic_garbage", b"PK\x03\x04" + b"\x00" * 100)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    put("zip_without_arrays", buf.getvalue())
    buf = io.BytesIO()
    np.savez(buf, W1=np.zeros(3))
    put("truncated_npz", buf.getvalue()[:-20])
    put("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    return files


NOT_NPZ = ("empty", "text", "pickle", "pickle_gz", "npy", "npy_object", "npz_object", "zip_magic_garbage",
           "zip_without_arrays", "truncated_npz", "png")


@pytest.mark.parametrize("kind", NOT_NPZ)
def test_loading_a_non_model_says_what_was_expected(tmp_path, kind):
    path = _not_npz_files(tmp_path)[kind]
    with pytest.raises(PipelineError, match="expected a model file written by the train or search stage") as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "a model file written by the train or search stage" in message
    assert "allow_pickle" not in message and "unsafely" not in message


@pytest.mark.parametrize("kind", NOT_NPZ)
def test_loading_a_non_split_says_what_was_expected(tmp_path, kind):
    path = _not_npz_files(tmp_path)[kind]
    with pytest.raises(DataError, match="expected a prepared split written by the split stage") as info:
        load_prepared(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "prepared split" in message
    assert "allow_pickle" not in message and "unsafely" not in message


def test_a_split_is_not_a_model_and_a_model_is_not_a_split(tmp_path):
    split = tmp_path / "test.npz"
    save_npz(split, {"images": np.zeros((2, 784), np.uint8), "labels": np.zeros(2, np.uint8)})
    with pytest.raises(PipelineError, match="missing array 'W1'.*expected a model file"):
        load_model(split)
    model = tmp_path / "model.npz"
    save_model(model, TwoLayerNet(784, 3, 10))
    with pytest.raises(DataError, match="missing array 'images'.*expected a prepared split"):
        load_prepared(model)


# ---- params.yaml: read as DVC reads it, short messages whatever the value ----

PARAMS_CASES = {
    "duplicate_top": ("train: {lr: 0.1}\ntrain: {lr: 0.2}\n", r"params.yaml:2: duplicate key \"train\""),
    "duplicate_nested": ("train:\n  lr: 0.1\n  reg: 0\n  lr: 0.2\n", r"params.yaml:4: duplicate key \"lr\""),
    "tab_indent": ("train:\n\tlr: 0.1\n", r"params.yaml:2: not valid YAML"),
    "unclosed": ("train: {lr: [0.1\n", r"params.yaml:2: not valid YAML"),
    "not_mapping": ("- a\n- b\n", "must be a mapping of sections"),
    "binary": (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    "empty": ("", "must be a mapping of sections"),
}


@pytest.mark.parametrize("case", sorted(PARAMS_CASES))
def test_bad_params_files(tmp_path, case):
    text, match = PARAMS_CASES[case]
    path = tmp_path / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ParamsError, match=match) as info:
        read_params(path)
    assert len(str(info.value)) < 200


def test_params_numbers_are_yaml_1_2_like_dvc(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: {lr: 1e-3, reg: 5E-4, weight_scale: .5, hidden_dim: 0x10, seed: 010, init: yes}\n")
    train = read_params(path)["train"]
    assert train == {"lr": 0.001, "reg": 0.0005, "weight_scale": 0.5, "hidden_dim": 16, "seed": 10, "init": "yes"}


HUGE_VALUES = {  # YAML text of each value
    "long_string": "x" * 100_000,
    "long_list": "[" + ", ".join(map(str, range(5_000))) + "]",
    "deep_list": "[" * 200 + "]" * 200,
    "wide_mapping": "{" + ", ".join(f"k{i}: {i}" for i in range(2_000)) + "}",
    "huge_int": "1" + "0" * 4000,
    "huge_float": "1e999",
}


@pytest.mark.parametrize("case", sorted(HUGE_VALUES))
@pytest.mark.parametrize("key", ["lr", "num_epochs", "init"])
def test_a_huge_value_is_shown_cut(tmp_path, case, key):
    from pipeline.common.plan import check_plan
    from pipeline.training import TrainParams

    path = tmp_path / "params.yaml"
    path.write_text(f"train:\n  {key}: {HUGE_VALUES[case]}\n")
    with pytest.raises(PipelineError, match=rf"^params\.yaml:train\.{key} = ") as info:  # a bad value, or (10**4000 epochs) a plan that cannot fit
        check_plan(TrainParams.from_dict(read_params(path)["train"], "params.yaml:train"), (55000, 784),
                   "params.yaml:train")
    message = str(info.value)
    assert message.startswith(f"params.yaml:train.{key} = ") and len(message) < 300


def test_unknown_keys_by_the_thousand_are_listed_short(tmp_path):
    from pipeline.training import TrainParams

    with pytest.raises(ParamsError, match=r"unknown key\(s\) bogus0, .* and 9995 more") as info:
        TrainParams.from_dict({f"bogus{i}": 1 for i in range(10_000)}, "params.yaml:train")
    assert "and 9995 more" in str(info.value) and len(str(info.value)) < 600


def test_billion_laughs_does_not_explode(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    lines += ["download: {mirrors: *a9}"]
    path = tmp_path / "params.yaml"
    path.write_text("\n".join(lines) + "\n")
    from pipeline.data.download import DownloadParams
    from pipeline.common.params import load_section

    start = time.monotonic()
    with pytest.raises(ParamsError, match=r"^params\.yaml:download\.mirrors\[0\] = .* is not allowed") as info:
        load_section(DownloadParams, "download", path)
    assert time.monotonic() - start < 5 and len(str(info.value)) < 300
