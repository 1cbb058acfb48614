"""Split: sizes, disjointness, determinism, stats, strict loading of raw and prepared files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.data import official
from pipeline.data.errors import DataError, IdxError
from pipeline.data.idx import decode_idx, encode_idx
from pipeline.data.split import SplitParams, load_prepared, load_raw, prepare, split_indices
from pipeline.nn.npz import save_npz
from pipeline.common.params import ParamsError, load_section

TRAIN_N, TEST_N = 100, 20  # the tiny_mnist fixture's sizes


def _rows(images: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in images]


def test_prepare_sizes_disjointness_and_stats(tmp_path, tiny_raw_dir, tiny_mnist) -> None:
    stats = prepare(tiny_raw_dir, tmp_path / "prep", SplitParams(val_size=30, seed=3), tmp_path / "split.json",
                    sha256=None)
    train, val, test = (load_prepared(tmp_path / "prep" / f"{s}.npz") for s in ("train", "val", "test"))
    assert (len(train[0]), len(val[0]), len(test[0])) == (70, 30, TEST_N)
    for images, labels in (train, val, test):
        assert images.dtype == np.uint8 and images.shape[1] == 784 and labels.dtype == np.uint8
    original = decode_idx(tiny_mnist[official.TRAIN_IMAGES], "t").reshape(TRAIN_N, 784)
    original_labels = decode_idx(tiny_mnist[official.TRAIN_LABELS], "t")
    index = {row: i for i, row in enumerate(_rows(original))}
    train_idx = [index[r] for r in _rows(train[0])]
    val_idx = [index[r] for r in _rows(val[0])]
    assert set(train_idx).isdisjoint(val_idx) and sorted(train_idx + val_idx) == list(range(TRAIN_N))
    assert train_idx == sorted(train_idx) and val_idx == sorted(val_idx)  # original order kept
    np.testing.assert_array_equal(train[1], original_labels[train_idx])
    np.testing.assert_array_equal(test[0], decode_idx(tiny_mnist[official.TEST_IMAGES], "t").reshape(TEST_N, 784))
    assert json.loads((tmp_path / "split.json").read_text()) == stats
    assert stats["total"] == TRAIN_N + TEST_N
    assert stats["val"]["total"] == 30 and sum(stats["val"]["per_class"].values()) == 30
    assert stats["test"]["per_class"] == {str(c): 2 for c in range(10)}
    assert stats["train"]["per_class"]["0"] == int(np.sum(train[1] == 0))


def test_same_seed_same_bytes_other_seed_differs(tmp_path, tiny_raw_dir) -> None:
    def run(tag: str, seed: int) -> bytes:
        prepare(tiny_raw_dir, tmp_path / tag, SplitParams(val_size=10, seed=seed), sha256=None)
        return (tmp_path / tag / "val.npz").read_bytes() + (tmp_path / tag / "train.npz").read_bytes()

    assert run("a", 0) == run("b", 0)
    assert run("c", 1) != run("a", 0)


def test_split_indices_uses_default_rng_permutation() -> None:
    train, val = split_indices(50, 5, seed=7)
    perm = np.random.default_rng(7).permutation(50)
    np.testing.assert_array_equal(val, np.sort(perm[:5]))
    np.testing.assert_array_equal(train, np.sort(perm[5:]))


def test_train_size_takes_the_first_n(tmp_path, tiny_raw_dir) -> None:
    full = prepare(tiny_raw_dir, tmp_path / "full", SplitParams(val_size=10, seed=0), sha256=None)
    small = prepare(tiny_raw_dir, tmp_path / "small", SplitParams(val_size=10, seed=0, train_size=25), sha256=None)
    assert (full["train"]["total"], small["train"]["total"]) == (90, 25)
    np.testing.assert_array_equal(load_prepared(tmp_path / "small" / "train.npz")[0],
                                  load_prepared(tmp_path / "full" / "train.npz")[0][:25])
    assert (tmp_path / "small" / "val.npz").read_bytes() == (tmp_path / "full" / "val.npz").read_bytes()


def test_sizes_too_large_are_refused(tiny_raw_dir, tmp_path) -> None:
    with pytest.raises(DataError, match=r"split.val_size = 100 must be smaller than the 100"):
        prepare(tiny_raw_dir, tmp_path / "p", SplitParams(val_size=100), sha256=None)
    with pytest.raises(DataError, match=r"split.train_size = 91 exceeds the 90"):
        prepare(tiny_raw_dir, tmp_path / "p", SplitParams(val_size=10, train_size=91), sha256=None)
    assert not (tmp_path / "p").exists()


def test_labels_outside_0_9_are_refused(tiny_raw_dir) -> None:
    labels = np.arange(TRAIN_N, dtype=np.uint8) % 10
    labels[42] = 10
    path = tiny_raw_dir / official.TRAIN_LABELS
    path.write_bytes(encode_idx(labels))
    with pytest.raises(DataError, match="outside 0-9, first at index 42 = 10") as exc:
        load_raw(tiny_raw_dir, sha256=None)
    assert str(path) in str(exc.value)


def test_label_count_must_match_images(tiny_raw_dir) -> None:
    (tiny_raw_dir / official.TEST_LABELS).write_bytes(encode_idx(np.zeros(TEST_N - 1, np.uint8)))
    with pytest.raises(DataError, match=f"has {TEST_N} images but .* has {TEST_N - 1} labels"):
        load_raw(tiny_raw_dir, sha256=None)


def test_malformed_raw_file_is_named(tiny_raw_dir) -> None:
    path = tiny_raw_dir / official.TRAIN_IMAGES
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(IdxError, match="truncated or padded") as exc:
        load_raw(tiny_raw_dir, sha256=None)
    assert str(path) in str(exc.value)


def test_images_must_be_28x28(tiny_raw_dir) -> None:
    (tiny_raw_dir / official.TEST_IMAGES).write_bytes(encode_idx(np.zeros((TEST_N, 784), np.uint8)))
    with pytest.raises(IdxError, match=r"expected \(any, 28, 28\)"):
        load_raw(tiny_raw_dir, sha256=None)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"images": np.zeros((2, 784), np.float32), "labels": np.zeros(2, np.uint8)}, "images are float32"),
        ({"images": np.zeros((2, 28, 28), np.uint8), "labels": np.zeros(2, np.uint8)}, r"expected uint8 \(N, 784\)"),
        ({"images": np.zeros((2, 784), np.uint8), "labels": np.zeros(2, np.int64)}, "labels are int64"),
        ({"images": np.zeros((2, 784), np.uint8), "labels": np.zeros(3, np.uint8)}, "2 images but 3 labels"),
        ({"images": np.zeros((2, 784), np.uint8), "labels": np.array([1, 11], np.uint8)}, "outside 0-9"),
        ({"images": np.zeros((2, 784), np.uint8)}, "missing array 'labels'"),
    ],
)
def test_load_prepared_refuses_bad_files(tmp_path, arrays, message) -> None:
    path = tmp_path / "bad.npz"
    save_npz(path, arrays)
    with pytest.raises(DataError, match=message) as exc:
        load_prepared(path)
    assert str(path) in str(exc.value)


def test_load_prepared_missing_and_corrupt(tmp_path) -> None:
    with pytest.raises(DataError, match="run the split stage first"):
        load_prepared(tmp_path / "train.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        load_prepared(tmp_path / "junk.npz")


def test_real_mnist_split(tmp_path, packaged_raw) -> None:
    raw, _, _ = packaged_raw
    stats = prepare(raw, tmp_path / "prep", SplitParams(), tmp_path / "split.json")
    assert {s: stats[s]["total"] for s in ("train", "val", "test")} == {"train": 55000, "val": 5000, "test": 10000}
    assert stats["test"]["per_class"]["1"] == 1135  # the well-known t10k class count
    for s in ("train", "val", "test"):
        assert sum(stats[s]["per_class"].values()) == stats[s]["total"]
    images, labels = load_prepared(tmp_path / "prep" / "val.npz")
    assert images.shape == (5000, 784) and labels.max() == 9


def test_split_params(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("split: {}\n")
    assert load_section(SplitParams, "split", path) == SplitParams(val_size=5000, seed=0, train_size=None)
    path.write_text("split: {val_size: 10, seed: 3, train_size: 100}\n")
    assert load_section(SplitParams, "split", path) == SplitParams(10, 3, 100)
    path.write_text("split: {val_size: 0}\n")
    with pytest.raises(ParamsError, match="split.val_size = 0"):
        load_section(SplitParams, "split", path)
    path.write_text("split: {train_size: 1.5}\n")
    with pytest.raises(ParamsError, match="split.train_size"):
        load_section(SplitParams, "split", path)
