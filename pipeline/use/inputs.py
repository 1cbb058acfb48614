"""What `predict` is asked about: image files, folders of them, and .npz/IDX files of 28x28 uint8 images.

Each path becomes one or more `Input`s: a name to print and either the 28x28 uint8 image the model
sees or the one-line error that says why there is none. One bad file never stops the others.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from pipeline.data.idx import read_idx
from pipeline.errors import PipelineError
from pipeline.nn.npz import load_npz
from pipeline.use.prepare import SIZE, SUFFIXES, ImageInputError, load_image, prepare

ARRAY_SUFFIXES = (".npz", ".idx", ".idx3-ubyte")
# At most this many images from one .npz/IDX file (the MNIST training set holds 60,000).
MAX_ARRAY_IMAGES = 100_000


@dataclass(frozen=True)
class Input:
    """One image asked about: `image` (28, 28) uint8, or `error` saying why there is none."""

    name: str
    image: np.ndarray | None = None
    error: str | None = None


def collect(paths: Iterable[str | os.PathLike]) -> Iterator[Input]:
    """Every image named by `paths`, in order (a folder's images sorted by path, searched recursively)."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES + ARRAY_SUFFIXES)
            if not files:
                yield Input(str(path), error=f"{path}: a folder with no images (expected files ending in "
                                             f"{', '.join(SUFFIXES + ARRAY_SUFFIXES)})")
            for f in files:
                yield from _file(f)
        elif not path.exists():
            yield Input(str(path), error=f"{path}: no such file or folder")
        else:
            yield from _file(path)


def _file(path: Path) -> Iterator[Input]:
    name = path.name.lower()
    try:
        if name.endswith(ARRAY_SUFFIXES) or name.endswith("-ubyte"):
            images = _array_file(path)
            for i, image in enumerate(images):
                yield Input(f"{path}[{i}]", image=image)
            return
        yield Input(str(path), image=prepare(load_image(path), str(path)))
    except (PipelineError, ValueError) as exc:
        yield Input(str(path), error=str(exc))


def _array_file(path: Path) -> np.ndarray:
    """The (N, 28, 28) uint8 images of an .npz (array `images`, or its only array) or an IDX file."""
    expected = f"uint8 images of {SIZE}x{SIZE} (N, {SIZE}, {SIZE}) or (N, {SIZE * SIZE})"
    if path.name.lower().endswith(".npz"):
        arrays = load_npz(path, expected=f"an .npz of {expected}")
        if "images" in arrays:
            images = arrays["images"]
        elif len(arrays) == 1:
            images = next(iter(arrays.values()))
        else:
            raise ImageInputError(f"{path}: holds {sorted(arrays)[:6]}; expected an array 'images' of {expected}")
    else:
        images = read_idx(path)
    if images.ndim == 2 and images.shape[1] == SIZE * SIZE:
        images = images.reshape(-1, SIZE, SIZE)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
        raise ImageInputError(f"{path}: images are {images.dtype} {images.shape}; expected {expected}")
    if not 0 < images.shape[0] <= MAX_ARRAY_IMAGES:
        raise ImageInputError(f"{path}: holds {images.shape[0]} images; expected 1 to {MAX_ARRAY_IMAGES}")
    return images
