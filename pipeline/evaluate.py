"""Test-set evaluation: accuracy, per-class accuracy and the confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.nn.model import TwoLayerNet
from pipeline.common.params import integer, param


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts (num_classes, num_classes) with rows = true class, columns = predicted class."""
    idx = y_true.astype(np.int64) * num_classes + y_pred.astype(np.int64)
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class Evaluation:
    """Predictions of one model on one labelled set, and the figures derived from them."""

    labels: np.ndarray
    predictions: np.ndarray
    confusion: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    def per_class_accuracy(self) -> list[float]:
        totals = self.confusion.sum(axis=1)
        return [float(c / t) if t else float("nan") for c, t in zip(np.diag(self.confusion), totals)]

    def summary(self) -> dict[str, Any]:
        """JSON-able metrics people compare: accuracy and error count (per class: `per_class_rows`)."""
        return {
            "test_acc": self.accuracy,
            "errors": int(self.confusion.sum() - np.trace(self.confusion)),
        }


def evaluate(model: TwoLayerNet, images: np.ndarray, labels: np.ndarray, batch_size: int = 10000) -> Evaluation:
    """Predict every image in large batches and compare with the labels."""
    if images.shape[0] == 0:
        raise ValueError("cannot evaluate on an empty set")
    preds = model.predict(images, batch_size)
    return Evaluation(labels, preds, confusion_matrix(labels, preds, model.num_classes))


@dataclass(frozen=True)
class EvaluateParams:
    """params.yaml:evaluate."""

    batch_size: int = param(integer(1), 10000, "images per forward pass")


def per_class_rows(evaluations: dict[str, Evaluation]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the per-class accuracy plot: one row per class, one column per model.

    A class with no test image has no accuracy: its cell is left empty.
    """
    names = list(evaluations)
    per_class = [evaluations[n].per_class_accuracy() for n in names]
    counts = {len(p) for p in per_class}
    if len(counts) != 1:
        raise ValueError(f"models {names} do not have the same number of classes")
    rows = [[c] + [None if np.isnan(p[c]) else p[c] for p in per_class] for c in range(counts.pop())]
    return ["class"] + names, rows


def confusion_rows(evaluation: Evaluation) -> list[list[int]]:
    """(actual, predicted) for every image, in test order: DVC's confusion-plot input."""
    return [[int(a), int(p)] for a, p in zip(evaluation.labels, evaluation.predictions)]
