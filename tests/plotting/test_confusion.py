"""pipeline.plotting.confusion: the matrix's checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import plotting as P

from .inputs import assert_raises_and_writes_nothing


@pytest.mark.parametrize("call,match", [
    (lambda q: P.plot_confusion_matrix(np.zeros((9, 10), int), q), r"matrix.*\(10, 10\)"),
    (lambda q: P.plot_confusion_matrix(np.zeros(100, int), q), r"matrix.*\(10, 10\)"),
    (lambda q: P.plot_confusion_matrix(-np.ones((10, 10), int), q), "matrix"),
    (lambda q: P.plot_confusion_matrix(np.full((10, 10), 0.5), q), "matrix"),
], ids=["cm_shape", "cm_1d", "cm_negative", "cm_fractional"])
def test_bad_matrix_raises_value_error(call, match: str, tmp_path: Path) -> None:
    assert_raises_and_writes_nothing(call, match, tmp_path)


def test_empty_matrix_still_draws(tmp_path: Path) -> None:
    path = P.plot_confusion_matrix(np.zeros((10, 10), int), tmp_path / "cm.png")
    assert path.stat().st_size > 0
