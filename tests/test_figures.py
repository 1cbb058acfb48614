"""pipeline.figures: the plot stage composes every figure from the other stages' outputs."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.figures import FIGURES, PlotParams, make_figures, read_search_results
from pipeline.fileio import save_npz, write_csv
from pipeline.model import TwoLayerNet
from pipeline.persistence import save_model

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def stage_outputs(tmp_path):
    rng = np.random.default_rng(0)
    train = tmp_path / "plots/train"
    write_csv(train / "epochs.csv", ["epoch", "loss", "train_acc", "val_acc", "lr"],
              [[0, 2.3, 0.1, 0.1, 0.001], [1, 0.5, 0.9, 0.88, 0.001], [2, 0.3, 0.93, 0.9, 0.001]])
    write_csv(train / "iterations.csv", ["iteration", "loss"], [[i + 1, 2.3 / (i + 1)] for i in range(20)])
    model = TwoLayerNet(784, 16, 10, seed=0)
    save_model(tmp_path / "best.npz", model)
    labels = rng.integers(0, 10, 50).astype(np.uint8)
    preds = labels.copy()
    preds[:7] = (preds[:7] + 1) % 10
    write_csv(tmp_path / "confusion.csv", ["actual", "predicted"], [[int(a), int(p)] for a, p in zip(labels, preds)])
    save_npz(tmp_path / "test.npz", {"images": rng.integers(0, 256, (50, 784), dtype=np.uint8), "labels": labels})
    write_csv(tmp_path / "search.csv", ["trial", "lr", "hidden_dim", "reg", "status", "best_val_acc"],
              [[0, 0.001, 16, 0.0, "ok", 0.9], [1, 0.001, 32, 0.0, "diverged", None]])
    return tmp_path


def test_every_figure_is_written(stage_outputs):
    t = stage_outputs
    paths = make_figures(t / "figures", t / "plots/train", t / "best.npz", t / "confusion.csv", t / "test.npz",
                         t / "search.csv", PlotParams(max_misclassified=4))
    assert [p.stem for p in paths] == list(FIGURES)
    assert all(p.read_bytes()[:8] == PNG for p in paths)


def test_confusion_csv_must_match_the_test_split(stage_outputs):
    t = stage_outputs
    write_csv(t / "confusion.csv", ["actual", "predicted"], [[1, 1]] * 50)
    with pytest.raises(ValueError, match="does not match"):
        make_figures(t / "figures", t / "plots/train", t / "best.npz", t / "confusion.csv", t / "test.npz",
                     t / "search.csv", PlotParams())


def test_read_search_results_types_and_diverged(stage_outputs):
    rows = read_search_results(stage_outputs / "search.csv")
    assert rows[0]["lr"] == 0.001 and rows[0]["hidden_dim"] == 16 and rows[0]["best_val_acc"] == 0.9
    assert rows[1]["status"] == "diverged" and rows[1]["best_val_acc"] is None
