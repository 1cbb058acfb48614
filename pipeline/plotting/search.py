"""The search figure: best validation accuracy over the lr x hidden_dim grid, one heatmap per reg."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.patches import Rectangle

from pipeline.plotting.render import BACKGROUND, check_title, new_figure, quarter_inch, save, style, text_color

_MAX_PANEL_COLS = 3
_DIVERGED_COLOR = "#b4b4b4"
_BEST_COLOR = "#d62728"


def _axes(trials: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float], list[int]]:
    """The distinct reg (descending), lr and hidden_dim (ascending) values of `trials`."""
    if not trials:
        raise ValueError("trials: expected at least one trial, got none")
    regs = sorted({t["reg"] for t in trials}, reverse=True)
    lrs = sorted({t["lr"] for t in trials})
    hiddens = sorted({t["hidden_dim"] for t in trials})
    return regs, lrs, hiddens


def _panel_grid(num_regs: int) -> tuple[int, int]:
    """(rows, cols) of the panels: up to 3 per row."""
    return -(-num_regs // _MAX_PANEL_COLS), min(num_regs, _MAX_PANEL_COLS)


def search_figsize(trials: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """Figure size (inches) used by `plot_search_results` for `trials`: it grows with the grid.

    Panels (one per reg value) are laid out in up to 3 columns; each grid cell gets about
    1 x 0.5 inch. Sizes are multiples of 1/4 inch.
    """
    regs, lrs, hiddens = _axes(trials)
    panel_rows, panel_cols = _panel_grid(len(regs))
    panel_w = max(2.5, 1.0 * len(hiddens)) + 1.0
    panel_h = max(1.0, 0.5 * len(lrs)) + 1.25
    width = max(6.0, panel_cols * panel_w + 1.5)
    height = panel_rows * panel_h + 1.0
    return quarter_inch(width), quarter_inch(height)


def plot_search_results(trials: Sequence[Mapping[str, Any]], path: str | os.PathLike, title: str = "") -> Path:
    """Heatmaps of best validation accuracy over the lr x hidden_dim grid, one panel per reg; write a PNG.

    `trials` is a non-empty list of mappings with keys ``lr`` (float), ``hidden_dim`` (int), ``reg``
    (float), ``best_val_acc`` (a fraction, or None when diverged) and ``status`` ("ok" or "diverged"),
    as `pipeline.plotting.figures.read_search_results` returns them, validated; other keys are ignored.
    Panels are sorted by reg descending and titled "reg = 0.1"; rows are lr ascending, columns
    hidden_dim ascending. Cells show the accuracy in percent with 2 decimals on a colour scale
    shared by all panels; diverged cells are grey with "diverged"; grid points without a trial say
    "no trial". If a configuration appears more than once, its cell shows the best of them. The
    overall best trial is outlined in red and described in the figure title. Returns `path` as a Path.
    """
    title = check_title(title)
    regs, lrs, hiddens = _axes(trials)
    figsize = search_figsize(trials)

    # acc[p, i, j] for reg p, lr i, hidden j: NaN = no ok trial; diverged[p, i, j]: a diverged trial only.
    acc = np.full((len(regs), len(lrs), len(hiddens)), np.nan)
    seen = np.zeros(acc.shape, dtype=bool)
    for t in trials:
        idx = (regs.index(t["reg"]), lrs.index(t["lr"]), hiddens.index(t["hidden_dim"]))
        seen[idx] = True
        if t["status"] == "ok" and not (acc[idx] >= t["best_val_acc"]):
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

    with style():
        fig = new_figure(figsize)
        panel_rows, panel_cols = _panel_grid(len(regs))
        axes = fig.subplots(panel_rows, panel_cols, squeeze=False).ravel()
        cmap = mpl.colormaps["viridis"].with_extremes(bad=BACKGROUND)
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
                                color=text_color(cmap((v - lo) / (hi - lo))),
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
        return save(fig, path)
