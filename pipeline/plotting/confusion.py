"""The confusion-matrix figure: row-normalised colours, raw counts in the cells."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.colors import PowerNorm

from pipeline.data.official import NUM_CLASSES
from pipeline.plotting.arrays import numeric_array
from pipeline.plotting.render import check_title, new_figure, save, style, text_color

FIGSIZE_CONFUSION = (7.5, 6.5)


def plot_confusion_matrix(matrix: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Draw a 10x10 confusion matrix (rows = true class, cols = predicted) as a heatmap; write a PNG.

    Cell colour is the count divided by its row total (the fraction of that true class), so every
    class is readable however unbalanced, on a square-root scale so small confusions show; the raw
    count is written in each cell (white on dark cells, zeros in light grey).
    Raises ValueError if `matrix` is not a (10, 10) array of non-negative integer counts.
    Returns `path` as a Path.
    """
    title = check_title(title)
    m = numeric_array(matrix, "matrix", 2, f"shape ({NUM_CLASSES}, {NUM_CLASSES}) of non-negative integer counts")
    if m.shape != (NUM_CLASSES, NUM_CLASSES):
        raise ValueError(f"matrix: expected shape ({NUM_CLASSES}, {NUM_CLASSES}), got shape {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0) or np.any(m != np.round(m)):
        raise ValueError("matrix: expected non-negative integer counts")
    counts = m.astype(np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    total = int(counts.sum())
    correct = int(np.trace(counts))

    with style():
        fig = new_figure(FIGSIZE_CONFUSION)
        ax = fig.add_subplot()
        cmap = mpl.colormaps["Blues"]
        # Square-root colour scale: a 2% confusion is visible next to a 98% diagonal.
        norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
        im = ax.imshow(frac, cmap=cmap, norm=norm, interpolation="nearest")
        big = counts.max() >= 10000
        for i in range(NUM_CLASSES):
            for j in range(NUM_CLASSES):
                color = "0.6" if counts[i, j] == 0 else text_color(cmap(norm(frac[i, j])))
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7.5 if big else 9, color=color)
        ticks = np.arange(NUM_CLASSES)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xlabel("Predicted")
        ax.set_ylabel("True")
        ax.xaxis.set_label_position("top")
        ax.xaxis.tick_top()
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.tick_params(length=0)
        cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        cbar.set_ticks([0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0])
        cbar.set_label("fraction of the true class (square-root scale)")
        heading = title or "Confusion matrix"
        acc = f"accuracy {100.0 * correct / total:.2f}% ({correct}/{total})" if total else "no samples"
        fig.suptitle(f"{heading}\n{acc}")
        return save(fig, path)
