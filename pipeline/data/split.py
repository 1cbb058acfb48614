"""Split stage library: raw IDX files -> train/val/test .npz, per-class stats, and `load_prepared`.

The validation set is `val_size` images drawn from the 60,000 training images by
`np.random.default_rng(seed).permutation`: the first `val_size` permuted indices are validation,
the rest training. Both parts keep the ORIGINAL file order (indices sorted), so a split is easy to
audit and does not depend on how a later stage shuffles. `train_size` keeps only the first N of the
training part (for tests and quick CI runs). The test set is the t10k files, untouched.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from pipeline.data import official
from pipeline.data.errors import DataError
from pipeline.data.idx import read_idx
from pipeline.nn.npz import load_npz, save_npz
from pipeline.common.fileio import write_json
from pipeline.common.params import integer, param
from pipeline.common.publish import publish

SPLITS = ("train", "val", "test")
PIXELS = official.IMAGE_SHAPE[0] * official.IMAGE_SHAPE[1]

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SplitParams:
    """The `split` section of params.yaml."""

    val_size: int = param(integer(lo=1), 5000, "images moved from the training files into the validation set")
    seed: int = param(integer(lo=0), 0, "seed of the permutation choosing the validation images")
    train_size: int | None = param(
        integer(lo=1, none_ok=True), None, "keep only the first N training images (null = all remaining)"
    )


def check_labels(labels: np.ndarray, source: str) -> None:
    """Raise DataError naming `source` if any label is outside 0-9."""
    bad = np.flatnonzero(labels >= official.NUM_CLASSES)  # labels are unsigned, so < 0 cannot occur
    if bad.size:
        raise DataError(
            f"{source}: {bad.size} label(s) outside 0-9, first at index {bad[0]} = {labels[bad[0]]}"
        )


def load_raw_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike,
                  sha256: tuple[str, str] | None = None) -> Pair:
    """Read one images/labels IDX pair as (N, 784) uint8 images and (N,) uint8 labels, fully checked.

    `sha256`: the expected (images, labels) SHA-256s, checked before parsing (None: not checked).
    """
    images_sha, labels_sha = sha256 or (None, None)
    images = read_idx(images_path, dtype=np.uint8, shape=(None, *official.IMAGE_SHAPE), sha256=images_sha)
    labels = read_idx(labels_path, dtype=np.uint8, shape=(None,), sha256=labels_sha)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels")
    check_labels(labels, str(labels_path))
    return images.reshape(len(images), PIXELS), labels


def load_raw(raw_dir: str | os.PathLike, sha256: Mapping[str, str] | None = official.SHA256) -> dict[str, Pair]:
    """Read the four official IDX files in `raw_dir` as {"train": pair, "test": pair}.

    Each file must match `sha256[name]` (default: the official SHA-256s) before it is parsed, so
    altered data is refused naming the file; None skips the check.
    """
    raw_dir = Path(raw_dir)

    def pair(images: str, labels: str) -> Pair:
        expected = None if sha256 is None else (sha256[images], sha256[labels])
        return load_raw_pair(raw_dir / images, raw_dir / labels, expected)

    return {
        "train": pair(official.TRAIN_IMAGES, official.TRAIN_LABELS),
        "test": pair(official.TEST_IMAGES, official.TEST_LABELS),
    }


def split_indices(n: int, val_size: int, seed: int, train_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted (train, val) index arrays into `n` training images (see the module docstring)."""
    if val_size >= n:
        raise DataError(f"split.val_size = {val_size} must be smaller than the {n} training images")
    remaining = n - val_size
    if train_size is not None and train_size > remaining:
        raise DataError(f"split.train_size = {train_size} exceeds the {remaining} images left after validation")
    perm = np.random.default_rng(seed).permutation(n)
    val = np.sort(perm[:val_size])
    train = np.sort(perm[val_size:])
    if train_size is not None:
        train = train[:train_size]
    return train, val


def make_split(raw: Mapping[str, Pair], params: SplitParams) -> dict[str, Pair]:
    """Split the raw train pair into train/val per `params`; test passes through unchanged."""
    images, labels = raw["train"]
    train, val = split_indices(len(labels), params.val_size, params.seed, params.train_size)
    return {
        "train": (images[train], labels[train]),
        "val": (images[val], labels[val]),
        "test": raw["test"],
    }


def split_stats(splits: Mapping[str, Pair]) -> dict:
    """Images per class per split and totals, as a JSON-ready dict for DVC metrics."""
    stats: dict = {}
    for name, (_, labels) in splits.items():
        counts = np.bincount(labels, minlength=official.NUM_CLASSES)
        stats[name] = {"total": int(labels.size), "per_class": {str(c): int(k) for c, k in enumerate(counts)}}
    stats["total"] = sum(s["total"] for s in stats.values())
    return stats


def prepare(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    params: SplitParams,
    stats_path: str | os.PathLike | None = None,
    sha256: Mapping[str, str] | None = official.SHA256,
) -> dict:
    """Read `raw_dir` (checked against `sha256`, see `load_raw`), write `out_dir`/{train,val,test}.npz
    (and `stats_path`) as a unit; return the stats."""
    splits = make_split(load_raw(raw_dir, sha256), params)
    stats = split_stats(splits)
    paths = {name: Path(out_dir) / f"{name}.npz" for name in SPLITS}
    with publish([*paths.values(), *([stats_path] if stats_path is not None else [])], "split") as out:
        for name in SPLITS:
            images, labels = splits[name]
            save_npz(out[paths[name]], {"images": images, "labels": labels})
        if stats_path is not None:
            write_json(out[stats_path], stats)
    return stats


def load_prepared(path: str | os.PathLike) -> Pair:
    """Load one prepared split as (images (N, 784) uint8, labels (N,) uint8 in 0-9).

    Raises DataError naming the file if it is missing, unreadable or has the wrong arrays.
    """
    path = Path(path)
    try:
        arrays = load_npz(path, required={"images": "uint8 (N, 784)", "labels": "uint8 (N,)"},
                          expected="a prepared split written by the split stage (images and labels)")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; run the split stage first (dvc repro split)") from None
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != PIXELS:
        raise DataError(f"{path}: images are {images.dtype} {images.shape}; expected uint8 (N, {PIXELS})")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{path}: labels are {labels.dtype} {labels.shape}; expected uint8 (N,)")
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
    check_labels(labels, str(path))
    return images, labels
