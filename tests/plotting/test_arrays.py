"""pipeline.plotting.arrays: the near-square grid, per-tile scaling, argument checks."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.plotting.arrays import minmax, near_square, numeric_array


@pytest.mark.parametrize("n,shape", [(25, (5, 5)), (30, (5, 6)), (100, (10, 10)), (144, (12, 12)),
                                     (256, (16, 16)), (7, (3, 3)), (1, (1, 1)), (10, (3, 4))])
def test_near_square(n: int, shape: tuple[int, int]) -> None:
    rows, cols = near_square(n)
    assert (rows, cols) == shape
    assert rows * cols >= n and rows <= cols <= rows + 1


def test_near_square_general() -> None:
    for n in range(1, 1100):
        rows, cols = near_square(n)
        assert rows * cols >= n and rows <= cols <= rows + 1
        assert (rows * cols - n) < cols  # padding never fills a whole row
        assert (rows - 1) * cols < n


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_near_square_refuses_non_positive_or_non_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="n: expected an integer >= 1"):
        near_square(bad)  # type: ignore[arg-type]


def test_minmax_scales_each_tile_and_keeps_nan_and_constant_mid_grey() -> None:
    np.testing.assert_allclose(minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    out = minmax(np.array([1.0, np.nan, 5.0]))
    assert out[0] == 0.0 and np.isnan(out[1]) and out[2] == 1.0
    assert np.all(minmax(np.full((2, 2), 7.0)) == 0.5)
    assert np.isnan(minmax(np.array([np.nan, np.inf]))).all()


def test_numeric_array_names_the_argument() -> None:
    assert numeric_array([1, 2], "x", 1, "a 1-D array").shape == (2,)
    with pytest.raises(ValueError, match=r"x: expected a 1-D array, got shape \(1, 2\)"):
        numeric_array([[1, 2]], "x", 1, "a 1-D array")
    with pytest.raises(ValueError, match="x: expected numeric values"):
        numeric_array(["a"], "x", 1, "a 1-D array")
