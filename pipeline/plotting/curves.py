"""The training-curves figure: loss per iteration and train/val accuracy per epoch."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from pipeline.plotting.arrays import numeric_array
from pipeline.plotting.render import check_title, new_figure, save, style

FIGSIZE_TRAINING = (10.0, 8.0)


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
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
    title = check_title(title)
    loss = numeric_array(loss_history, "loss_history", 1,
                         "a 1-D sequence of per-iteration losses, shape (num_iterations,)")
    train = numeric_array(train_acc_history, "train_acc_history", 1, "a 1-D sequence, shape (num_epochs + 1,)")
    val = numeric_array(val_acc_history, "val_acc_history", 1, "a 1-D sequence, shape (num_epochs + 1,)")
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

    with style():
        fig = new_figure(FIGSIZE_TRAINING)
        ax_loss, ax_acc = fig.subplots(2, 1)

        it = np.arange(loss.size)
        ax_loss.plot(it, loss, "o", markersize=2, alpha=0.35, color="C0", markeredgewidth=0, label="per iteration")
        if loss.size >= 20:
            window = max(5, loss.size // 50)
            ax_loss.plot(it, moving_average(loss, window), "-", color="C1", linewidth=2,
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
        return save(fig, path)
