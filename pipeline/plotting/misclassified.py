"""The misclassified-digits figure: a near-square grid of test images titled "true 3 → pred 5"."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.data.official import IMAGE_SHAPE, NUM_CLASSES
from pipeline.plotting.arrays import near_square, numeric_array
from pipeline.plotting.render import check_title, new_figure, quarter_inch, save, style

IMAGE_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]


def _labels(x: Any, name: str, n: int) -> np.ndarray:
    arr = numeric_array(x, name, 1, f"a 1-D array of class labels 0..9, shape ({n},)")
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) (one label per image), got shape {arr.shape}")
    if n and (arr.dtype.kind == "f" and np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise ValueError(f"{name}: expected integer class labels in 0..{NUM_CLASSES - 1}")
    return arr.astype(np.int64)


def misclassified_figsize(n: int) -> tuple[float, float]:
    """Figure size (inches) used by `plot_misclassified` to show `n` images (0 allowed).

    At most 8 inches wide (about 1.75 inch per column, at least 4); the height follows the
    number of rows of the `near_square(n)` grid so it has no large empty bands. Multiples of 1/4 inch.
    """
    if n == 0:
        return (8.0, 3.0)
    rows, cols = near_square(n)
    width = quarter_inch(min(8.0, max(4.0, 1.75 * cols)))
    cell = width / cols
    return width, quarter_inch(0.9 + rows * (0.85 * cell + 0.3) + 0.1)


def plot_misclassified(
    images: np.ndarray,
    true_labels: np.ndarray,
    pred_labels: np.ndarray,
    path: str | os.PathLike,
    max_images: int = 36,
    title: str = "",
) -> Path:
    """Show up to `max_images` misclassified images in a grid, each titled "true 3 → pred 5"; write a PNG.

    `images` are uint8 MNIST images of shape (N, 784) (or (N, 28, 28)); `true_labels` and
    `pred_labels` have shape (N,). The first `max_images` are shown, in the given order, drawn as
    dark ink on white. With N = 0 the figure says "no misclassified images".
    Raises ValueError on wrong shapes, labels outside 0..9 or max_images < 1. Returns `path` as a Path.
    """
    title = check_title(title)
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 1:
        raise ValueError(f"max_images: expected an integer >= 1, got {max_images!r}")
    imgs = np.asarray(images)
    if imgs.ndim == 3 and imgs.shape[1:] == IMAGE_SHAPE:
        imgs = imgs.reshape(imgs.shape[0], IMAGE_PIXELS)
    if imgs.ndim != 2 or imgs.shape[1] != IMAGE_PIXELS:
        raise ValueError(f"images: expected shape (N, {IMAGE_PIXELS}) (or (N, 28, 28)), got shape {imgs.shape}")
    if imgs.dtype.kind not in "biuf":
        raise ValueError(f"images: expected uint8 pixel values, got dtype {imgs.dtype}")
    n_total = imgs.shape[0]
    true = _labels(true_labels, "true_labels", n_total)
    pred = _labels(pred_labels, "pred_labels", n_total)
    n = min(n_total, int(max_images))
    heading = title or "Misclassified images"

    with style():
        fig = new_figure(misclassified_figsize(n))
        if n == 0:
            fig.suptitle(heading)
            fig.text(0.5, 0.45, "no misclassified images", ha="center", va="center", fontsize=18, color="0.3")
            return save(fig, path)

        rows, cols = near_square(n)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        long_labels = cols <= 6
        fontsize = 10 if long_labels else 9 if cols <= 10 else 7
        vmax = 255 if imgs.dtype.kind in "iu" or imgs.max() > 1.0 else 1.0
        for k, ax in enumerate(axes):
            if k >= n:
                ax.set_axis_off()
                continue
            ax.imshow(imgs[k].reshape(IMAGE_SHAPE), cmap="gray_r", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color("0.75")
            label = f"true {true[k]} → pred {pred[k]}" if long_labels else f"{true[k]} → {pred[k]}"
            ax.set_title(label, fontsize=fontsize, pad=3)
        shown = f"showing {n} of {n_total}" if n < n_total else f"{n_total} image{'s' if n_total != 1 else ''}"
        if not long_labels:
            shown += " (true → predicted)"
        fig.suptitle(f"{heading}\n{shown}")
        return save(fig, path)
