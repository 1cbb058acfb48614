"""Figure plumbing shared by every plot: style, an Agg-backed Figure, atomic PNG saving, colours.

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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.style  # noqa: F401  (makes mpl.style available)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from pipeline.nn.npz import atomic_write

DPI = 100

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
BACKGROUND = "white"


def new_figure(figsize: tuple[float, float], layout: str | None = "constrained") -> Figure:
    """A Figure attached to its own Agg canvas (no pyplot, no global registry)."""
    fig = Figure(figsize=figsize, dpi=DPI, layout=layout, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    return fig


@contextlib.contextmanager
def style() -> Iterator[None]:
    """matplotlib's built-in default style plus `_RC`, restored on exit (a matplotlibrc cannot leak in)."""
    with mpl.style.context("default"), mpl.rc_context(_RC):
        yield


def save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write `fig` as a PNG at the fixed dpi, without metadata that varies between runs."""
    path = Path(path)
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None}, facecolor=fig.get_facecolor())
    fig.clear()
    return path


def grey(bad: str = BACKGROUND) -> Colormap:
    """The grey colormap with NaN drawn in `bad`."""
    return mpl.colormaps["gray"].with_extremes(bad=bad)


def text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour `rgba`."""
    r, g, b = rgba[:3]
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def quarter_inch(x: float) -> float:
    """`x` rounded up to a multiple of 1/4 inch, so that size * DPI is an exact pixel count."""
    return math.ceil(x * 4) / 4


def check_title(title: str) -> str:
    """`title` itself, or a ValueError if it is not a str."""
    if not isinstance(title, str):
        raise ValueError(f"title: expected a str, got {type(title).__name__}")
    return title
