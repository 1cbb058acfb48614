"""pipeline.use.card: the model card's figures (interval, per class, confusions) and its sections."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate import confusion_matrix, evaluate
from pipeline.persistence import load_model
from pipeline.use.card import confused_pairs, model_card, wilson_interval


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(9779, 10000)
    assert (round(lo, 4), round(hi, 4)) == (0.9748, 0.9806)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(0, 10)[0] == pytest.approx(0.0)
    assert wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    with pytest.raises(ValueError, match="at least one trial"):
        wilson_interval(0, 0)


def test_confused_pairs_most_frequent_first():
    truth = np.array([4, 4, 4, 9, 9, 7, 7, 2, 1])
    preds = np.array([9, 9, 4, 4, 7, 2, 2, 2, 1])
    assert confused_pairs(confusion_matrix(truth, preds), top=3) == [(4, 9, 2), (7, 2, 2), (9, 4, 1)]


def test_the_card_has_every_section_with_the_models_figures(digit_model, mnist_test):
    model, meta = load_model(digit_model)
    images, labels = mnist_test
    result = evaluate(model, images.reshape(-1, 784), labels)
    card = model_card("models/best.npz", meta, result, "data/prepared/test.npz")
    for heading in ("# Model card: models/best.npz", "## Data and split", "## Training", "## Test accuracy",
                    "## Not tested on", "## How to use it"):
        assert f"\n{heading}\n" in f"\n{card}"
    assert f"**{100 * result.accuracy:.2f} %** ({int(np.trace(result.confusion))} of 10000 test images" in card
    assert "95 % confidence interval" in card and "| hidden_dim | 64 |" in card
    a, p, n = confused_pairs(result.confusion)[0]
    assert f"| {a} | {p} | {n} |" in card
    assert card.count("\n| ") >= 10 + 5 and "python -m pipeline.predict" in card and "pipeline.serve" in card
    assert meta["train_data_sha256"] in card
