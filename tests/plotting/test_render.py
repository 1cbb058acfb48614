"""pipeline.plotting.render: every figure is a valid, correctly sized, byte-reproducible PNG, written atomically."""
from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from pipeline import plotting as P
from pipeline.plotting import render

from .inputs import CASES, assert_raises_and_writes_nothing, confusion

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_png_valid_sized_and_reproducible(name: str, tmp_path: Path) -> None:
    draw, figsize = CASES[name]
    first, second = tmp_path / "a" / f"{name}.png", tmp_path / f"{name}.png"
    assert draw(first) == first
    draw(second)
    data = first.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert b"Software" not in data and b"matplotlib" not in data.lower()
    pixels = mpimg.imread(first)
    expected = (round(figsize[1] * P.DPI), round(figsize[0] * P.DPI))
    assert pixels.shape[:2] == expected
    assert pixels.std() > 0.01, "blank image"
    assert data == second.read_bytes(), "rendering twice gave different bytes"
    assert not list(tmp_path.rglob("*.tmp")), "temporary file left behind"


def test_existing_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "cm.png"
    path.write_bytes(b"old")
    P.plot_confusion_matrix(confusion(), path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_failed_plot_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cm.png"

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("render failed")

    monkeypatch.setattr(render.Figure, "savefig", boom)
    with pytest.raises(RuntimeError, match="^render failed$"):
        P.plot_confusion_matrix(confusion(), path)
    assert list(tmp_path.iterdir()) == []


def test_title_must_be_a_string(tmp_path: Path) -> None:
    assert_raises_and_writes_nothing(lambda q: P.plot_w2_tiles(np.zeros((16, 10)), q, title=None), "title",
                                     tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("x,expected", [(0.1, 0.25), (1.0, 1.0), (2.3, 2.5), (7.76, 8.0)])
def test_quarter_inch_rounds_up(x: float, expected: float) -> None:
    assert render.quarter_inch(x) == expected
