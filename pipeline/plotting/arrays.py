"""Array helpers shared by the figures: argument checks, per-tile scaling, the near-square grid."""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def numeric_array(x: Any, name: str, ndim: int, expected: str) -> np.ndarray:
    """`x` as a numeric ndarray with `ndim` dimensions, else a ValueError naming `name` and `expected`."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected {expected}, got an object numpy cannot convert ({exc})") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected {expected}, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric values ({expected}), got dtype {arr.dtype}")
    return arr


def near_square(n: int) -> tuple[int, int]:
    """(rows, cols) of the most nearly square grid holding `n` >= 1 cells, filled row by row.

    cols = ceil(sqrt(n)), rows = ceil(n / cols): an exact square when n is a perfect square
    (256 -> 16x16, 25 -> 5x5), otherwise rows <= cols <= rows + 1 with fewer than `cols` cells
    left over (30 -> 5x6, 7 -> 3x3, 10 -> 3x4). Used for the W1 tile grid, each W2 tile and the
    misclassified-digit grid.
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}")
    n = int(n)
    cols = math.isqrt(n - 1) + 1  # ceil(sqrt(n)) without floating point
    return -(-n // cols), cols


def minmax(tile: np.ndarray) -> np.ndarray:
    """Scale `tile` to [0, 1] using its own finite min and max; non-finite entries become NaN.

    A constant tile becomes uniform 0.5 (mid grey).
    """
    tile = np.asarray(tile, dtype=np.float64)
    out = np.full(tile.shape, np.nan)
    finite = np.isfinite(tile)
    if not finite.any():
        return out
    lo, hi = tile[finite].min(), tile[finite].max()
    out[finite] = (tile[finite] - lo) / (hi - lo) if hi > lo else 0.5
    return out
