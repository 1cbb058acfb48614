"""pipeline.plotting.weights: the W1 mosaic layout, the W2 tiles, and their argument checks."""
from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from pipeline import plotting as P
from pipeline.plotting.arrays import near_square
from pipeline.plotting.weights import w2_tile

from .inputs import assert_raises_and_writes_nothing, rng


@pytest.mark.parametrize("hidden", [1, 2, 7, 50, 256, 1024])
def test_w1_mosaic_layout(hidden: int) -> None:
    W1 = rng().standard_normal((784, hidden)) * np.arange(1, hidden + 1)
    gap = 1
    rows, cols = near_square(hidden)
    assert rows * cols >= hidden and (rows - 1) * cols < hidden
    mosaic = P.w1_mosaic(W1, gap=gap)
    assert mosaic.shape == (rows * (28 + gap) - gap, cols * (28 + gap) - gap)
    step = 28 + gap
    for k in {0, hidden // 2, hidden - 1}:
        r, c = divmod(k, cols)
        tile = mosaic[r * step:r * step + 28, c * step:c * step + 28]
        col = W1[:, k].reshape(28, 28)
        np.testing.assert_allclose(tile, (col - col.min()) / (col.max() - col.min()))
        assert tile.min() == 0.0 and tile.max() == 1.0
    # Gaps and unused cells are NaN; every tile pixel is finite.
    assert np.isfinite(mosaic).sum() == hidden * 784
    if rows > 1:
        assert np.isnan(mosaic[28:28 + gap, :]).all()


def test_w1_mosaic_constant_column_is_mid_grey() -> None:
    W1 = np.zeros((784, 3))
    W1[:, 1] = np.arange(784)
    mosaic = P.w1_mosaic(W1, gap=2)
    assert np.all(mosaic[:28, :28] == 0.5)


def test_w1_tiles_large_hidden_is_fast(tmp_path: Path) -> None:
    path = tmp_path / "w1_1024.png"
    P.plot_w1_tiles(np.random.default_rng(0).standard_normal((784, 1024)), path)
    assert mpimg.imread(path).shape[:2] == (1000, 1000)


def test_w2_tile_fills_row_by_row_and_pads_with_nan() -> None:
    tile = w2_tile(np.arange(30.0))
    assert tile.shape == (5, 6)
    np.testing.assert_allclose(tile.ravel(), np.arange(30.0) / 29)
    tile = w2_tile(np.arange(10.0))
    assert tile.shape == (3, 4) and np.isnan(tile.ravel()[10:]).all() and np.isfinite(tile.ravel()[:10]).all()


@pytest.mark.parametrize("call,match", [
    (lambda q: P.plot_w1_tiles(np.zeros((783, 5)), q), r"W1.*\(784, H\)"),
    (lambda q: P.plot_w1_tiles(np.zeros((5, 784)), q), r"W1.*\(784, H\)"),
    (lambda q: P.plot_w1_tiles(np.zeros(784), q), r"W1.*\(784, H\)"),
    (lambda q: P.plot_w1_tiles(np.zeros((784, 0)), q), r"W1.*\(784, H\)"),
    (lambda q: P.plot_w2_tiles(np.zeros((64, 9)), q), r"W2.*\(H, 10\)"),
    (lambda q: P.plot_w2_tiles(np.zeros((10, 64)), q), r"W2.*\(H, 10\)"),
    (lambda q: P.plot_w2_tiles(np.zeros((8, 8, 10)), q), r"W2.*\(H, 10\)"),
], ids=["w1_rows", "w1_transposed", "w1_1d", "w1_empty", "w2_cols", "w2_transposed", "w2_3d"])
def test_bad_weights_raise_value_error(call, match: str, tmp_path: Path) -> None:
    assert_raises_and_writes_nothing(call, match, tmp_path)
