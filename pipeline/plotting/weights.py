"""The weight figures: W1 columns as 28x28 image tiles, W2 columns as near-square tiles per class."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline.data.official import IMAGE_SHAPE, NUM_CLASSES
from pipeline.plotting.arrays import minmax, near_square, numeric_array
from pipeline.plotting.render import check_title, grey, new_figure, save, style

FIGSIZE_W1 = (10.0, 10.0)
FIGSIZE_W2 = (10.0, 5.0)
IMAGE_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
# Padding cells of a W2 tile: a tint that no grey level can be mistaken for.
PAD_COLOR = "#cfe0f3"


def _check_w1(W1: np.ndarray) -> np.ndarray:
    arr = numeric_array(W1, "W1", 2, f"shape ({IMAGE_PIXELS}, H) with 1 <= H")
    if arr.shape[0] != IMAGE_PIXELS or arr.shape[1] < 1:
        raise ValueError(f"W1: expected shape ({IMAGE_PIXELS}, H) with H >= 1, got shape {arr.shape}")
    return arr


def w1_mosaic(W1: np.ndarray, gap: int = 1) -> np.ndarray:
    """Compose the columns of W1 (784, H) into one 2-D float image of 28x28 tiles.

    Column k, reshaped to 28x28 (row-major, like the flattened MNIST images) and min-max normalised
    to [0, 1] on its own, is tile k of a grid of `near_square(H)` (rows, cols), filled row by row: its
    top-left pixel is at ``(row * (28 + gap), col * (28 + gap))`` with ``row, col = divmod(k, cols)``.
    Gaps between tiles and unused grid cells are NaN (drawn in the white background colour).
    Shape: ``(rows * (28 + gap) - gap, cols * (28 + gap) - gap)``.
    """
    W1 = _check_w1(W1)
    if gap < 0:
        raise ValueError(f"gap: expected an integer >= 0, got {gap}")
    hidden = W1.shape[1]
    rows, cols = near_square(hidden)
    side = IMAGE_SHAPE[0]
    step = side + gap
    mosaic = np.full((rows * step - gap, cols * step - gap), np.nan)
    for k in range(hidden):
        r, c = divmod(k, cols)
        mosaic[r * step:r * step + side, c * step:c * step + side] = minmax(W1[:, k].reshape(IMAGE_SHAPE))
    return mosaic


def plot_w1_tiles(W1: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Show each first-layer weight column of W1 (784, H) as a 28x28 grey tile; write a PNG to `path`.

    Tiles are min-max normalised one by one and composed into a single image (see `w1_mosaic`)
    drawn with one imshow, so this is fast for any H (tested 1..1024).
    Raises ValueError if W1 is not of shape (784, H). Returns `path` as a Path.
    """
    title = check_title(title)
    W1 = _check_w1(W1)
    hidden = W1.shape[1]
    mosaic = w1_mosaic(W1, gap=1 if hidden > 64 else 2)
    rows, cols = near_square(hidden)
    with style():
        fig = new_figure(FIGSIZE_W1)
        ax = fig.add_subplot()
        ax.imshow(mosaic, cmap=grey(), vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_axis_off()
        heading = title or "First-layer weights W1"
        fig.suptitle(f"{heading}\n{hidden} hidden units, one 28×28 tile each ({rows}×{cols} grid)")
        return save(fig, path)


def w2_tile(column: np.ndarray) -> np.ndarray:
    """One W2 column of H values as a `near_square(H)` tile, min-max scaled; the cells left over are NaN."""
    rows, cols = near_square(column.size)
    padded = np.full(rows * cols, np.nan)
    padded[:column.size] = column
    return minmax(padded.reshape(rows, cols))


def plot_w2_tiles(W2: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Show each of the 10 second-layer weight columns of W2 (H, 10) as a grey tile; write a PNG.

    Column j (the weights into class j's score) is reshaped to the `near_square(H)` tile, filled row
    by row, min-max normalised on its own and drawn in a 2x5 grid titled with its class digit; the
    cells left over at the end are drawn in a pale blue padding colour, distinct from every grey.
    Raises ValueError if W2 is not of shape (H, 10). Returns `path` as a Path.
    """
    title = check_title(title)
    W2 = numeric_array(W2, "W2", 2, f"shape (H, {NUM_CLASSES})")
    if W2.shape[1] != NUM_CLASSES or W2.shape[0] < 1:
        raise ValueError(f"W2: expected shape (H, {NUM_CLASSES}) with H >= 1, got shape {W2.shape}")
    hidden = W2.shape[0]
    rows, cols = near_square(hidden)
    with style():
        fig = new_figure(FIGSIZE_W2)
        axes = fig.subplots(2, 5)
        for digit, ax in enumerate(axes.flat):
            ax.imshow(w2_tile(W2[:, digit].astype(np.float64)), cmap=grey(bad=PAD_COLOR), vmin=0.0, vmax=1.0,
                      interpolation="nearest")
            ax.set_title(str(digit), fontsize=14)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():  # a thin frame keeps white cells from merging into the page
                spine.set_visible(True)
                spine.set_color("0.6")
        heading = title or "Second-layer weights W2"
        pad = rows * cols - hidden
        shape_note = f"{rows}×{cols} tile" + (f", last {pad} cell{'s' if pad > 1 else ''} shown in blue as padding"
                                              if pad else "")
        fig.suptitle(f"{heading}\n{hidden} hidden-unit weights into each class score ({shape_note})")
        return save(fig, path)
