"""pipeline.plotting.curves: the moving average and the histories' checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import plotting as P
from pipeline.plotting.curves import moving_average

from .inputs import assert_raises_and_writes_nothing, histories


def test_moving_average_is_centred_shrinks_at_edges_and_skips_nan() -> None:
    np.testing.assert_allclose(moving_average(np.arange(5.0), 3), [0.5, 1.0, 2.0, 3.0, 3.5])
    np.testing.assert_allclose(moving_average(np.array([1.0, np.nan, 3.0]), 3), [1.0, 2.0, 3.0])


_LOSS, _TRAIN, _VAL = histories()


@pytest.mark.parametrize("call,match", [
    (lambda q: P.plot_training_curves(_LOSS.reshape(-1, 2), _TRAIN, _VAL, q), "loss_history"),
    (lambda q: P.plot_training_curves([], _TRAIN, _VAL, q), "loss_history"),
    (lambda q: P.plot_training_curves(_LOSS, _TRAIN, _VAL[:-1], q), "val_acc_history"),
    (lambda q: P.plot_training_curves(_LOSS, _TRAIN[:, None], _VAL, q), "train_acc_history"),
], ids=["loss_2d", "loss_empty", "acc_mismatch", "train_2d"])
def test_bad_histories_raise_value_error(call, match: str, tmp_path: Path) -> None:
    assert_raises_and_writes_nothing(call, match, tmp_path)
