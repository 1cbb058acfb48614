"""pipeline.plotting.misclassified: figure size and the images' and labels' checks."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import plotting as P

from .inputs import assert_raises_and_writes_nothing, misclassified


@pytest.mark.parametrize("n", [0, 1, 5, 36, 400])
def test_figsize_is_quarter_inches_at_most_8_wide(n: int) -> None:
    w, h = P.misclassified_figsize(n)
    assert 4.0 <= w <= 8.0 and (w * 4).is_integer() and (h * 4).is_integer()


_IMGS, _TRUE, _PRED = misclassified(4)


@pytest.mark.parametrize("call,match", [
    (lambda q: P.plot_misclassified(_IMGS[:, :700], _TRUE, _PRED, q), r"images.*\(N, 784\)"),
    (lambda q: P.plot_misclassified(_IMGS[0], _TRUE[:1], _PRED[:1], q), r"images.*\(N, 784\)"),
    (lambda q: P.plot_misclassified(_IMGS, _TRUE[:3], _PRED, q), r"true_labels.*\(4,\)"),
    (lambda q: P.plot_misclassified(_IMGS, _TRUE, _PRED[:, None], q), "pred_labels"),
    (lambda q: P.plot_misclassified(_IMGS, _TRUE, _PRED + 10, q), "pred_labels"),
    (lambda q: P.plot_misclassified(_IMGS, _TRUE, _PRED, q, max_images=0), "max_images"),
], ids=["imgs_shape", "imgs_1d", "true_len", "pred_2d", "pred_range", "max_images"])
def test_bad_input_raises_value_error(call, match: str, tmp_path: Path) -> None:
    assert_raises_and_writes_nothing(call, match, tmp_path)
