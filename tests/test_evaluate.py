"""pipeline.evaluate: confusion matrix, accuracy, per-class accuracy, the DVC confusion rows."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate import Evaluation, confusion_matrix, confusion_rows, evaluate, per_class_rows
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.preprocess import Preprocessor


def test_confusion_matrix_rows_true_columns_predicted():
    m = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), num_classes=3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_summary_accuracy_and_per_class():
    labels, preds = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])
    ev = Evaluation(labels, preds, confusion_matrix(labels, preds, 3))
    s = ev.summary()
    assert s == {"test_acc": pytest.approx(0.6), "errors": 2}  # per-class accuracy is a plot, not a metric
    assert ev.per_class_accuracy()[:2] == [pytest.approx(0.5), pytest.approx(2 / 3)]
    assert np.isnan(ev.per_class_accuracy()[2])  # a class with no images has no accuracy
    assert confusion_rows(ev) == [[0, 0], [0, 1], [1, 1], [1, 1], [1, 0]]


def test_per_class_rows_one_row_per_class_one_column_per_model():
    labels = np.array([0, 0, 1, 1, 1])
    a = Evaluation(labels, np.array([0, 1, 1, 1, 0]), confusion_matrix(labels, np.array([0, 1, 1, 1, 0]), 3))
    b = Evaluation(labels, labels, confusion_matrix(labels, labels, 3))
    header, rows = per_class_rows({"model": a, "best": b})
    assert header == ["class", "model", "best"]
    assert rows == [[0, 0.5, 1.0], [1, pytest.approx(2 / 3), 1.0], [2, None, None]]  # class 2: no image


def test_per_class_rows_refuses_models_with_different_class_counts():
    labels = np.array([0, 1])
    a = Evaluation(labels, labels, confusion_matrix(labels, labels, 2))
    b = Evaluation(labels, labels, confusion_matrix(labels, labels, 3))
    with pytest.raises(ValueError, match="number of classes"):
        per_class_rows({"model": a, "best": b})


def test_evaluate_matches_predict():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 20), dtype=np.uint8)
    labels = rng.integers(0, 4, 300).astype(np.uint8)
    model = TwoLayerNet(20, 7, 4, weight_scale=0.1, preprocessor=Preprocessor("unit"), seed=1)
    ev = evaluate(model, images, labels, batch_size=64)
    assert np.array_equal(ev.predictions, model.predict(images))
    assert ev.accuracy == pytest.approx(np.mean(ev.predictions == labels))
    assert ev.confusion.sum() == 300


def test_evaluate_refuses_an_empty_set():
    model = TwoLayerNet(20, 7, 4)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, np.zeros((0, 20), np.uint8), np.zeros(0, np.uint8))
