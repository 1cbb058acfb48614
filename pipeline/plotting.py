"""Deterministic matplotlib figures (PNG) for the MNIST two-layer-network pipeline.

Every public ``plot_*`` function draws one figure and writes it, atomically, as a PNG to ``path``.

Determinism: figures are built with the object-oriented ``Figure`` API on an explicit Agg canvas
(pyplot is never imported, so no global figure state leaks and nothing needs closing), under
matplotlib's built-in default style (a user's matplotlibrc cannot change the output), with fixed
sizes, a fixed dpi, the bundled DejaVu Sans font, and no "Software" PNG metadata. Rendering the same
inputs twice gives byte-identical files on the same machine and library versions.

Figure sizes are multiples of 1/4 inch so that ``figsize * DPI`` is an exact pixel count.
"""
from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.style  # noqa: F401  (makes mpl.style available)
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from pipeline.fileio import atomic_write

__all__ = [
    "DPI",
    "plot_training_curves",
    "plot_w1_tiles",
    "plot_w2_tiles",
    "plot_confusion_matrix",
    "plot_misclassified",
    "plot_search_results",
    "w1_grid",
    "w1_mosaic",
    "misclassified_grid",
    "misclassified_figsize",
    "w2_tile_shape",
    "search_figsize",
]

DPI = 100

# Fixed figure sizes in inches (width, height); the misclassified and search-results figures grow
# with their grids (see misclassified_figsize, search_figsize).
FIGSIZE_TRAINING = (10.0, 8.0)
FIGSIZE_W1 = (10.0, 10.0)
FIGSIZE_W2 = (10.0, 5.0)
FIGSIZE_CONFUSION = (7.5, 6.5)

IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10

# Applied on top of matplotlib's built-in defaults for every figure.
_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": True,
    "legend.framealpha": 0.9,
    "image.interpolation": "nearest",
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
    "path.simplify": True,
}

# NaN pixels (gaps between tiles, padding) take the figure background colour.
_BACKGROUND = "white"
_DIVERGED_COLOR = "#b4b4b4"
# Padding cells of a W2 tile: a tint that no grey level can be mistaken for.
_PAD_COLOR = "#cfe0f3"
_BEST_COLOR = "#d62728"


# ---------------------------------------------------------------- figure plumbing


def _new_figure(figsize: tuple[float, float], layout: str | None = "constrained") -> Figure:
    """A Figure attached to its own Agg canvas (no pyplot, no global registry)."""
    fig = Figure(figsize=figsize, dpi=DPI, layout=layout, facecolor=_BACKGROUND)
    FigureCanvasAgg(fig)
    return fig


@contextlib.contextmanager
def _style() -> Iterator[None]:
    """matplotlib's built-in default style plus `_RC`, restored on exit (a matplotlibrc cannot leak in)."""
    with mpl.style.context("default"), mpl.rc_context(_RC):
        yield


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write `fig` as a PNG at the fixed dpi, without metadata that varies between runs."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None}, facecolor=fig.get_facecolor())
    fig.clear()
    return path


def _grey(bad: str = _BACKGROUND) -> Colormap:
    return mpl.colormaps["gray"].with_extremes(bad=bad)


def _text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour `rgba`."""
    r, g, b = rgba[:3]
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


# ---------------------------------------------------------------- validation helpers


def _array(x: Any, name: str, ndim: int, expected: str) -> np.ndarray:
    """`x` as an ndarray with `ndim` dimensions, else a ValueError naming `name` and `expected`."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected {expected}, got an object numpy cannot convert ({exc})") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected {expected}, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected numeric values ({expected}), got dtype {arr.dtype}")
    return arr


def _quarter(x: float) -> float:
    """`x` rounded up to a multiple of 1/4 inch, so that size * DPI is an exact pixel count."""
    return math.ceil(x * 4) / 4


def _title(title: str) -> str:
    if not isinstance(title, str):
        raise ValueError(f"title: expected a str, got {type(title).__name__}")
    return title


def _minmax(tile: np.ndarray) -> np.ndarray:
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


# ---------------------------------------------------------------- 1. training curves


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` points, ignoring non-finite values (shrinks at the edges)."""
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y)
    values = np.concatenate([[0.0], np.cumsum(np.where(finite, y, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    n = y.size
    half = window // 2
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx + (window - half), 0, n)
    cnt = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (values[hi] - values[lo]) / np.maximum(cnt, 1), np.nan)


def plot_training_curves(
    loss_history: Sequence[float] | np.ndarray,
    train_acc_history: Sequence[float] | np.ndarray,
    val_acc_history: Sequence[float] | np.ndarray,
    path: str | os.PathLike,
    title: str = "",
) -> Path:
    """Plot the training loss per iteration and train/val accuracy per epoch; write a PNG to `path`.

    Top panel "Training loss": one small dot per iteration, with a centred moving average on top
    when there are at least 20 iterations. Bottom panel "Accuracy": train and val accuracy per epoch
    ('-o'), a dashed black line at 0.9, legend lower right. The accuracy histories hold
    ``num_epochs + 1`` entries: index 0 is the accuracy before training.

    Raises ValueError if a history is not 1-D, is empty, or the two accuracy histories differ in length.
    Returns `path` as a Path.
    """
    title = _title(title)
    loss = _array(loss_history, "loss_history", 1, "a 1-D sequence of per-iteration losses, shape (num_iterations,)")
    train = _array(train_acc_history, "train_acc_history", 1, "a 1-D sequence, shape (num_epochs + 1,)")
    val = _array(val_acc_history, "val_acc_history", 1, "a 1-D sequence, shape (num_epochs + 1,)")
    if loss.size == 0:
        raise ValueError("loss_history: expected shape (num_iterations,) with num_iterations >= 1, got shape (0,)")
    if train.size == 0:
        raise ValueError("train_acc_history: expected shape (num_epochs + 1,) with at least 1 entry, got shape (0,)")
    if val.shape != train.shape:
        raise ValueError(
            f"val_acc_history: expected shape {train.shape} (same as train_acc_history), got shape {val.shape}"
        )
    loss = loss.astype(np.float64)
    train = train.astype(np.float64)
    val = val.astype(np.float64)

    with _style():
        fig = _new_figure(FIGSIZE_TRAINING)
        ax_loss, ax_acc = fig.subplots(2, 1)

        it = np.arange(loss.size)
        ax_loss.plot(it, loss, "o", markersize=2, alpha=0.35, color="C0", markeredgewidth=0, label="per iteration")
        if loss.size >= 20:
            window = max(5, loss.size // 50)
            ax_loss.plot(it, _moving_average(loss, window), "-", color="C1", linewidth=2,
                         label=f"moving average ({window} iterations)")
            ax_loss.legend(loc="upper right")
        ax_loss.set_title("Training loss")
        ax_loss.set_xlabel("Iteration")
        ax_loss.set_ylabel("Loss")
        ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_loss.grid(True, alpha=0.3)

        epochs = np.arange(train.size)
        ax_acc.plot(epochs, train, "-o", color="C0", markersize=4, label="train")
        ax_acc.plot(epochs, val, "-o", color="C1", markersize=4, label="val")
        ax_acc.axhline(0.9, color="black", linestyle="--", linewidth=1)
        ax_acc.set_title("Accuracy")
        ax_acc.set_xlabel("Epoch")
        ax_acc.set_ylabel("Accuracy")
        ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_acc.grid(True, alpha=0.3)
        ax_acc.legend(loc="lower right")

        if title:
            fig.suptitle(title)
        return _save(fig, path)


# ---------------------------------------------------------------- 2. first-layer weights


def _check_w1(W1: Any) -> np.ndarray:
    arr = _array(W1, "W1", 2, f"shape ({IMAGE_PIXELS}, H) with 1 <= H")
    if arr.shape[0] != IMAGE_PIXELS or arr.shape[1] < 1:
        raise ValueError(f"W1: expected shape ({IMAGE_PIXELS}, H) with H >= 1, got shape {arr.shape}")
    return arr


def w1_grid(hidden_dim: int) -> tuple[int, int]:
    """(rows, cols) of the W1 tile grid for `hidden_dim` tiles: cols = ceil(sqrt(H)), rows = ceil(H / cols)."""
    if hidden_dim < 1:
        raise ValueError(f"hidden_dim: expected an integer >= 1, got {hidden_dim}")
    cols = math.isqrt(hidden_dim - 1) + 1  # ceil(sqrt(H)) without floating point
    return -(-hidden_dim // cols), cols


def w1_mosaic(W1: np.ndarray, gap: int = 1) -> np.ndarray:
    """Compose the columns of W1 (784, H) into one 2-D float image of 28x28 tiles.

    Column k, reshaped to 28x28 (row-major, like the flattened MNIST images) and min-max normalised
    to [0, 1] on its own, is tile k of a grid of `w1_grid(H)` (rows, cols), filled row by row: its
    top-left pixel is at ``(row * (28 + gap), col * (28 + gap))`` with ``row, col = divmod(k, cols)``.
    Gaps between tiles and unused grid cells are NaN (drawn in the white background colour).
    Shape: ``(rows * (28 + gap) - gap, cols * (28 + gap) - gap)``.
    """
    W1 = _check_w1(W1)
    if gap < 0:
        raise ValueError(f"gap: expected an integer >= 0, got {gap}")
    hidden = W1.shape[1]
    rows, cols = w1_grid(hidden)
    step = IMAGE_SIDE + gap
    mosaic = np.full((rows * step - gap, cols * step - gap), np.nan)
    for k in range(hidden):
        r, c = divmod(k, cols)
        tile = _minmax(W1[:, k].reshape(IMAGE_SIDE, IMAGE_SIDE))
        mosaic[r * step:r * step + IMAGE_SIDE, c * step:c * step + IMAGE_SIDE] = tile
    return mosaic


def plot_w1_tiles(W1: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Show each first-layer weight column of W1 (784, H) as a 28x28 grey tile; write a PNG to `path`.

    Tiles are min-max normalised one by one and composed into a single image (see `w1_mosaic`)
    drawn with one imshow, so this is fast for any H (tested 1..1024).
    Raises ValueError if W1 is not of shape (784, H). Returns `path` as a Path.
    """
    title = _title(title)
    W1 = _check_w1(W1)
    hidden = W1.shape[1]
    gap = 1 if hidden > 64 else 2
    mosaic = w1_mosaic(W1, gap=gap)
    rows, cols = w1_grid(hidden)
    with _style():
        fig = _new_figure(FIGSIZE_W1)
        ax = fig.add_subplot()
        ax.imshow(mosaic, cmap=_grey(), vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_axis_off()
        heading = title or "First-layer weights W1"
        fig.suptitle(f"{heading}\n{hidden} hidden units, one 28×28 tile each ({rows}×{cols} grid)")
        return _save(fig, path)


# ---------------------------------------------------------------- 3. second-layer weights


def w2_tile_shape(hidden_dim: int) -> tuple[int, int]:
    """(rows, cols) of the tile that shows one W2 column of `hidden_dim` values.

    cols = ceil(sqrt(H)), rows = ceil(H / cols): an exact square when H is a perfect square
    (256 -> 16x16, 144 -> 12x12, 100 -> 10x10, 25 -> 5x5), otherwise the most nearly square
    shape with rows <= cols <= rows + 1 and rows * cols >= H (30 -> 5x6, 7 -> 3x3, 10 -> 3x4).
    Values fill the tile row by row; the rows * cols - H cells left over at the end are NaN
    (drawn in a pale blue padding colour, distinct from every grey level).
    """
    if isinstance(hidden_dim, bool) or int(hidden_dim) != hidden_dim or hidden_dim < 1:
        raise ValueError(f"hidden_dim: expected an integer >= 1, got {hidden_dim!r}")
    hidden_dim = int(hidden_dim)
    cols = math.isqrt(hidden_dim - 1) + 1
    return -(-hidden_dim // cols), cols


def _w2_tile(column: np.ndarray) -> np.ndarray:
    rows, cols = w2_tile_shape(column.size)
    padded = np.full(rows * cols, np.nan)
    padded[:column.size] = column
    return _minmax(padded.reshape(rows, cols))


def plot_w2_tiles(W2: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Show each of the 10 second-layer weight columns of W2 (H, 10) as a grey tile; write a PNG.

    Column j (the weights into class j's score) is reshaped to the `w2_tile_shape(H)` tile,
    min-max normalised on its own and drawn in a 2x5 grid titled with its class digit.
    Raises ValueError if W2 is not of shape (H, 10). Returns `path` as a Path.
    """
    title = _title(title)
    W2 = _array(W2, "W2", 2, f"shape (H, {NUM_CLASSES})")
    if W2.shape[1] != NUM_CLASSES or W2.shape[0] < 1:
        raise ValueError(f"W2: expected shape (H, {NUM_CLASSES}) with H >= 1, got shape {W2.shape}")
    hidden = W2.shape[0]
    rows, cols = w2_tile_shape(hidden)
    with _style():
        fig = _new_figure(FIGSIZE_W2)
        axes = fig.subplots(2, 5)
        for digit, ax in enumerate(axes.flat):
            ax.imshow(_w2_tile(W2[:, digit].astype(np.float64)), cmap=_grey(bad=_PAD_COLOR), vmin=0.0, vmax=1.0,
                      interpolation="nearest")
            ax.set_title(str(digit), fontsize=14)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():  # a thin frame keeps white cells from merging into the page
                spine.set_visible(True)
                spine.set_color("0.6")
        heading = title or "Second-layer weights W2"
        pad = rows * cols - hidden
        shape_note = f"{rows}×{cols} tile" + (f", last {pad} cell{'s' if pad > 1 else ''} shown in blue as padding" if pad else "")
        fig.suptitle(f"{heading}\n{hidden} hidden-unit weights into each class score ({shape_note})")
        return _save(fig, path)


# ---------------------------------------------------------------- 4. confusion matrix


def plot_confusion_matrix(matrix: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Draw a 10x10 confusion matrix (rows = true class, cols = predicted) as a heatmap; write a PNG.

    Cell colour is the count divided by its row total (the fraction of that true class), so every
    class is readable however unbalanced, on a square-root scale so small confusions show; the raw
    count is written in each cell (white on dark cells, zeros in light grey).
    Raises ValueError if `matrix` is not a (10, 10) array of non-negative integer counts.
    Returns `path` as a Path.
    """
    title = _title(title)
    m = _array(matrix, "matrix", 2, f"shape ({NUM_CLASSES}, {NUM_CLASSES}) of non-negative integer counts")
    if m.shape != (NUM_CLASSES, NUM_CLASSES):
        raise ValueError(f"matrix: expected shape ({NUM_CLASSES}, {NUM_CLASSES}), got shape {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0) or np.any(m != np.round(m)):
        raise ValueError("matrix: expected non-negative integer counts")
    counts = m.astype(np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    total = int(counts.sum())
    correct = int(np.trace(counts))

    with _style():
        fig = _new_figure(FIGSIZE_CONFUSION)
        ax = fig.add_subplot()
        cmap = mpl.colormaps["Blues"]
        # Square-root colour scale: a 2% confusion is visible next to a 98% diagonal.
        norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
        im = ax.imshow(frac, cmap=cmap, norm=norm, interpolation="nearest")
        big = counts.max() >= 10000
        for i in range(NUM_CLASSES):
            for j in range(NUM_CLASSES):
                color = "0.6" if counts[i, j] == 0 else _text_color(cmap(norm(frac[i, j])))
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
        return _save(fig, path)


# ---------------------------------------------------------------- 5. misclassified examples


def _labels(x: Any, name: str, n: int) -> np.ndarray:
    arr = _array(x, name, 1, f"a 1-D array of class labels 0..9, shape ({n},)")
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) (one label per image), got shape {arr.shape}")
    if n and (arr.dtype.kind == "f" and np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise ValueError(f"{name}: expected integer class labels in 0..{NUM_CLASSES - 1}")
    return arr.astype(np.int64)


def misclassified_grid(n: int) -> tuple[int, int]:
    """(rows, cols) of the grid for `n` >= 1 images: cols = ceil(sqrt(n)), rows = ceil(n / cols)."""
    if n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n}")
    cols = math.isqrt(n - 1) + 1
    return -(-n // cols), cols


def misclassified_figsize(n: int) -> tuple[float, float]:
    """Figure size (inches) used by `plot_misclassified` to show `n` images (0 allowed).

    At most 8 inches wide (about 1.75 inch per column, at least 4); the height follows the
    number of rows so the grid has no large empty bands. Multiples of 1/4 inch.
    """
    if n == 0:
        return (8.0, 3.0)
    rows, cols = misclassified_grid(n)
    width = _quarter(min(8.0, max(4.0, 1.75 * cols)))
    cell = width / cols
    return width, _quarter(0.9 + rows * (0.85 * cell + 0.3) + 0.1)


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
    title = _title(title)
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 1:
        raise ValueError(f"max_images: expected an integer >= 1, got {max_images!r}")
    imgs = np.asarray(images)
    if imgs.ndim == 3 and imgs.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
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

    with _style():
        fig = _new_figure(misclassified_figsize(n))
        if n == 0:
            fig.suptitle(heading)
            fig.text(0.5, 0.45, "no misclassified images", ha="center", va="center", fontsize=18, color="0.3")
            return _save(fig, path)

        rows, cols = misclassified_grid(n)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        long_labels = cols <= 6
        fontsize = 10 if long_labels else 9 if cols <= 10 else 7
        vmax = 255 if imgs.dtype.kind in "iu" or imgs.max() > 1.0 else 1.0
        for k, ax in enumerate(axes):
            if k >= n:
                ax.set_axis_off()
                continue
            ax.imshow(imgs[k].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=vmax,
                      interpolation="nearest")
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
        return _save(fig, path)


# ---------------------------------------------------------------- 6. hyperparameter search


_TRIAL_KEYS = ("lr", "hidden_dim", "reg", "best_val_acc", "status")


def _check_trials(trials: Any) -> list[dict[str, Any]]:
    if isinstance(trials, (str, bytes, Mapping)) or not isinstance(trials, Sequence):
        raise ValueError(f"trials: expected a list of dicts with keys {list(_TRIAL_KEYS)}, got {type(trials).__name__}")
    if len(trials) == 0:
        raise ValueError("trials: expected at least one trial, got an empty list")
    out = []
    for i, t in enumerate(trials):
        where = f"trials[{i}]"
        if not isinstance(t, Mapping):
            raise ValueError(f"{where}: expected a dict with keys {list(_TRIAL_KEYS)}, got {type(t).__name__}")
        missing = [k for k in _TRIAL_KEYS if k not in t]
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing}; expected keys {list(_TRIAL_KEYS)}")

        def number(key: str, lo: float, lo_open: bool) -> float:
            v = t[key]
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) \
                    or (v <= lo if lo_open else v < lo):
                raise ValueError(f"{where}['{key}'] = {v!r}: expected a finite number {'>' if lo_open else '>='} {lo:g}")
            return float(v)

        lr = number("lr", 0.0, True)
        reg = number("reg", 0.0, False)
        hd = t["hidden_dim"]
        if isinstance(hd, bool) or not isinstance(hd, (int, np.integer)) or hd < 1:
            raise ValueError(f"{where}['hidden_dim'] = {hd!r}: expected an integer >= 1")
        status = t["status"]
        if status not in ("ok", "diverged"):
            raise ValueError(f"{where}['status'] = {status!r}: expected 'ok' or 'diverged'")
        acc = None
        if status == "ok":
            acc = number("best_val_acc", 0.0, False)
            if acc > 1.0:
                raise ValueError(f"{where}['best_val_acc'] = {acc!r}: expected a fraction in [0, 1]")
        out.append({"lr": lr, "hidden_dim": int(hd), "reg": reg, "best_val_acc": acc, "status": status})
    return out


def _search_axes(trials: list[dict[str, Any]]) -> tuple[list[float], list[float], list[int]]:
    regs = sorted({t["reg"] for t in trials}, reverse=True)
    lrs = sorted({t["lr"] for t in trials})
    hiddens = sorted({t["hidden_dim"] for t in trials})
    return regs, lrs, hiddens


_SEARCH_MAX_PANEL_COLS = 3


def search_figsize(trials: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """Figure size (inches) used by `plot_search_results` for `trials`: it grows with the grid.

    Panels (one per reg value) are laid out in up to 3 columns; each grid cell gets about
    1 x 0.5 inch. Sizes are multiples of 1/4 inch.
    """
    regs, lrs, hiddens = _search_axes(_check_trials(trials))
    panel_cols = min(len(regs), _SEARCH_MAX_PANEL_COLS)
    panel_rows = -(-len(regs) // _SEARCH_MAX_PANEL_COLS)
    panel_w = max(2.5, 1.0 * len(hiddens)) + 1.0
    panel_h = max(1.0, 0.5 * len(lrs)) + 1.25
    width = max(6.0, panel_cols * panel_w + 1.5)
    height = panel_rows * panel_h + 1.0
    return _quarter(width), _quarter(height)


def plot_search_results(trials: Sequence[Mapping[str, Any]], path: str | os.PathLike, title: str = "") -> Path:
    """Heatmaps of best validation accuracy over the lr x hidden_dim grid, one panel per reg; write a PNG.

    `trials` is a list of dicts with keys ``lr``, ``hidden_dim``, ``reg``, ``best_val_acc`` (a fraction,
    or None when diverged) and ``status`` ("ok" or "diverged"); other keys are ignored. Panels are
    sorted by reg descending and titled "reg = 0.1"; rows are lr ascending, columns hidden_dim
    ascending. Cells show the accuracy in percent with 2 decimals on a colour scale shared by all
    panels; diverged cells are grey with "diverged"; grid points without a trial are blank. If a
    configuration appears more than once, its cell shows the best of them. The overall best trial is
    outlined in red and described in the figure title.
    Raises ValueError naming the trial and key on malformed input. Returns `path` as a Path.
    """
    title = _title(title)
    checked = _check_trials(trials)
    regs, lrs, hiddens = _search_axes(checked)
    figsize = search_figsize(checked)

    # acc[p, i, j] for reg p, lr i, hidden j: NaN = no ok trial; diverged[p, i, j]: a diverged trial only.
    acc = np.full((len(regs), len(lrs), len(hiddens)), np.nan)
    seen = np.zeros(acc.shape, dtype=bool)
    for t in checked:
        idx = (regs.index(t["reg"]), lrs.index(t["lr"]), hiddens.index(t["hidden_dim"]))
        seen[idx] = True
        if t["best_val_acc"] is not None and not (acc[idx] >= t["best_val_acc"]):
            acc[idx] = t["best_val_acc"]
    diverged = seen & np.isnan(acc)
    pct = 100.0 * acc

    best = None
    if np.isfinite(pct).any():
        # First maximum in (reg desc, lr asc, hidden asc) order: deterministic tie-break.
        best = np.unravel_index(int(np.nanargmax(pct)), pct.shape)
        lo, hi = float(np.nanmin(pct)), float(np.nanmax(pct))
        if hi - lo < 0.1:
            lo, hi = lo - 0.05, hi + 0.05
    else:
        lo, hi = 0.0, 100.0

    heading = title or "Hyperparameter search: best validation accuracy"
    if best is not None:
        p, i, j = best
        sub = f"best {pct[best]:.2f}% at lr = {lrs[i]:g}, hidden_dim = {hiddens[j]}, reg = {regs[p]:g}"
    else:
        sub = "every trial diverged"

    with _style():
        fig = _new_figure(figsize)
        panel_cols = min(len(regs), _SEARCH_MAX_PANEL_COLS)
        panel_rows = -(-len(regs) // _SEARCH_MAX_PANEL_COLS)
        axes = fig.subplots(panel_rows, panel_cols, squeeze=False).ravel()
        cmap = mpl.colormaps["viridis"].with_extremes(bad=_BACKGROUND)
        im = None
        for p, ax in enumerate(axes):
            if p >= len(regs):
                ax.set_axis_off()
                continue
            im = ax.imshow(pct[p], cmap=cmap, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
            for i in range(len(lrs)):
                for j in range(len(hiddens)):
                    if diverged[p, i, j]:
                        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=_DIVERGED_COLOR, edgecolor="none"))
                        ax.text(j, i, "diverged", ha="center", va="center", fontsize=8.5, color="0.15")
                    elif np.isfinite(pct[p, i, j]):
                        v = pct[p, i, j]
                        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9.5,
                                color=_text_color(cmap((v - lo) / (hi - lo))),
                                fontweight="bold" if best == (p, i, j) else "normal")
                    else:
                        ax.text(j, i, "no trial", ha="center", va="center", fontsize=8, color="0.55")
            if best is not None and best[0] == p:
                ax.add_patch(Rectangle((best[2] - 0.47, best[1] - 0.47), 0.94, 0.94, fill=False,
                                       edgecolor=_BEST_COLOR, linewidth=3))
            ax.set_xticks(np.arange(len(hiddens)), [str(h) for h in hiddens])
            ax.set_yticks(np.arange(len(lrs)), [f"{lr:g}" for lr in lrs])
            ax.set_xlabel("hidden_dim")
            if p % panel_cols == 0:
                ax.set_ylabel("learning rate")
            ax.set_title(f"reg = {regs[p]:g}")
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            # Thin white lines between cells.
            ax.set_xticks(np.arange(len(hiddens) + 1) - 0.5, minor=True)
            ax.set_yticks(np.arange(len(lrs) + 1) - 0.5, minor=True)
            ax.tick_params(which="minor", length=0)
            ax.grid(which="minor", color="white", linewidth=2)
        used = [ax for p, ax in enumerate(axes) if p < len(regs)]
        if best is not None and im is not None:
            cbar = fig.colorbar(im, ax=used, shrink=0.9, pad=0.02, aspect=25)
            cbar.set_label("best val accuracy (%)")
        fig.suptitle(f"{heading}\n{sub}")
        return _save(fig, path)
