"""A PNG of the 28x28 inputs a model saw, side by side, so a user can see why it answered what it did."""
from __future__ import annotations

import io
import math
import os

import numpy as np
from PIL import Image

from pipeline.nn.npz import atomic_write

ZOOM = 4     # each input pixel drawn as ZOOM x ZOOM screen pixels
GAP = 2      # grey lines between tiles
COLUMNS = 10


def input_grid(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> one uint8 picture of the tiles, COLUMNS per row, enlarged ZOOM times."""
    n, h, w = images.shape
    cols = min(COLUMNS, max(n, 1))
    rows = max(1, math.ceil(n / cols))
    th, tw = h * ZOOM, w * ZOOM
    out = np.full((rows * (th + GAP) + GAP, cols * (tw + GAP) + GAP), 128, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        y, x = GAP + r * (th + GAP), GAP + c * (tw + GAP)
        out[y:y + th, x:x + tw] = np.kron(img, np.ones((ZOOM, ZOOM), dtype=np.uint8))
    return out


def png_bytes(picture: np.ndarray) -> bytes:
    """A grey PNG of a uint8 array (no timestamps: same array, same bytes)."""
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def save_input_grid(path: str | os.PathLike, images: np.ndarray) -> None:
    """Write `input_grid(images)` as a PNG at `path`, atomically."""
    with atomic_write(path, "wb") as f:
        f.write(png_bytes(input_grid(images)))
