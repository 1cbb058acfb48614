"""pipeline.plotting.figures: the plot stage composes every figure from the other stages' outputs, titled by run."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.plotting import figures
from pipeline.plotting.figures import FIGURES, PlotParams, make_figures, read_search_results
from pipeline.nn.npz import save_npz
from pipeline.common.fileio import write_csv
from pipeline.nn.model import TwoLayerNet
from pipeline.persistence import save_model
from pipeline.training import TrainParams

PNG = b"\x89PNG\r\n\x1a\n"
SEARCH_HEADER = ["trial", "lr", "hidden_dim", "reg", "status", "best_val_acc", "best_epoch", "final_train_acc",
                 "epochs"]


def _save(path, hidden, **config):
    save_model(path, TwoLayerNet(784, hidden, 10, seed=0),
               {"train_config": dataclasses.asdict(TrainParams(hidden_dim=hidden, **config))})


@pytest.fixture
def stage_outputs(tmp_path):
    rng = np.random.default_rng(0)
    train = tmp_path / "plots/train"
    write_csv(train / "epochs.csv", ["epoch", "loss", "train_acc", "val_acc", "lr"],
              [[0, 2.3, 0.1, 0.1, 0.001], [1, 0.5, 0.9, 0.88, 0.001], [2, 0.3, 0.93, 0.9, 0.001]])
    write_csv(train / "iterations.csv", ["iteration", "loss"], [[i + 1, 2.3 / (i + 1)] for i in range(20)])
    _save(tmp_path / "model.npz", 8)
    _save(tmp_path / "best.npz", 16, reg=0.01, num_epochs=20)
    labels = rng.integers(0, 10, 50).astype(np.uint8)
    preds = labels.copy()
    preds[:7] = (preds[:7] + 1) % 10
    write_csv(tmp_path / "confusion.csv", ["actual", "predicted"], [[int(a), int(p)] for a, p in zip(labels, preds)])
    save_npz(tmp_path / "test.npz", {"images": rng.integers(0, 256, (50, 784), dtype=np.uint8), "labels": labels})
    write_csv(tmp_path / "search.csv", SEARCH_HEADER,
              [[0, 0.001, 16, 0.01, "ok", 0.9, 3, 0.95, 20], [1, 0.001, 32, 0.01, "diverged", None, None, None, 2]])
    return tmp_path


def _make(t, **overrides):
    args = {"out_dir": t / "figures", "train_plots": t / "plots/train", "train_model": t / "model.npz",
            "best_model": t / "best.npz", "confusion_csv": t / "confusion.csv", "test_split": t / "test.npz",
            "search_results": t / "search.csv", "params": PlotParams(max_misclassified=4), **overrides}
    return make_figures(**args)


def test_every_figure_is_written(stage_outputs):
    paths = _make(stage_outputs)
    assert [p.stem for p in paths] == list(FIGURES)
    assert all(p.read_bytes()[:8] == PNG for p in paths)


def test_titles_name_the_run(stage_outputs, monkeypatch):
    titles = {}
    for name in ("plot_training_curves", "plot_w1_tiles", "plot_w2_tiles", "plot_confusion_matrix",
                 "plot_misclassified", "plot_search_results"):
        original = getattr(figures, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            titles[_name] = kwargs["title"]
            return _original(*args, **kwargs)

        monkeypatch.setattr(figures, name, spy)
    _make(stage_outputs)
    assert titles["plot_training_curves"].split("\n")[1] == "H=8, lr=0.001, reg=0, 10 epochs"
    for name in ("plot_w1_tiles", "plot_w2_tiles", "plot_confusion_matrix", "plot_misclassified"):
        assert " ".join(titles[name].split("\n")[1:]) == "H=16, lr=0.001, reg=0.01, 20 epochs", name
    assert titles["plot_search_results"].split("\n")[1] == "2 trials over lr × hidden_dim × reg; each 20 epochs"


def test_a_different_run_gives_a_different_training_figure(stage_outputs):
    first = _make(stage_outputs)[0].read_bytes()
    _save(stage_outputs / "model.npz", 8, update_rule="adam")
    second = _make(stage_outputs)[0].read_bytes()
    assert first != second, "the training-curves title must change with the run's settings"


def test_confusion_csv_must_match_the_test_split(stage_outputs):
    t = stage_outputs
    write_csv(t / "confusion.csv", ["actual", "predicted"], [[1, 1]] * 50)
    with pytest.raises(ValueError, match="does not match"):
        _make(t, params=PlotParams())


def test_read_search_results_types_and_diverged(stage_outputs):
    rows = read_search_results(stage_outputs / "search.csv")
    assert rows[0]["lr"] == 0.001 and rows[0]["hidden_dim"] == 16 and rows[0]["best_val_acc"] == 0.9
    assert rows[1]["status"] == "diverged" and rows[1]["best_val_acc"] is None


def test_read_search_results_fills_keys_the_grid_did_not_vary(tmp_path):
    write_csv(tmp_path / "s.csv", ["trial", "lr", "status", "best_val_acc"], [[0, 0.01, "ok", 0.5]])
    rows = read_search_results(tmp_path / "s.csv", fixed={"hidden_dim": 100, "reg": 0.001, "lr": 9.0})
    assert rows[0]["lr"] == 0.01 and rows[0]["hidden_dim"] == 100 and rows[0]["reg"] == 0.001
    with pytest.raises(ValueError, match=r"s.csv: missing column\(s\) hidden_dim, reg"):
        read_search_results(tmp_path / "s.csv")


_OK = {"trial": "0", "lr": "0.1", "hidden_dim": "10", "reg": "0.0", "status": "ok", "best_val_acc": "0.9"}


@pytest.mark.parametrize("rows,match", [
    ([], "no trials"),
    ([{**_OK, "status": "failed"}], r"search.csv:2: status = 'failed'.*ok or diverged"),
    ([{**_OK, "best_val_acc": ""}], r"search.csv:2: best_val_acc = ''"),
    ([{**_OK, "best_val_acc": "98.5"}], r"search.csv:2: best_val_acc = '98.5'.*fraction"),
    ([_OK, {**_OK, "lr": "-1.0"}], r"search.csv:3: lr = '-1.0'.*> 0"),
    ([{**_OK, "lr": "nan"}], r"search.csv:2: lr = 'nan'"),
    ([{**_OK, "hidden_dim": "1.5"}], r"search.csv:2: hidden_dim = '1.5'.*integer"),
    ([{**_OK, "reg": "x"}], r"search.csv:2: reg = 'x'"),
], ids=["empty", "status", "ok_without_acc", "percent", "negative_lr", "nan_lr", "fractional_hidden", "text_reg"])
def test_read_search_results_names_the_bad_cell(tmp_path, rows, match):
    write_csv(tmp_path / "search.csv", list(_OK), [[r[k] for k in _OK] for r in rows])
    with pytest.raises(ValueError, match=match):
        read_search_results(tmp_path / "search.csv")


def test_missing_column_is_named(tmp_path):
    write_csv(tmp_path / "search.csv", [k for k in _OK if k != "reg"], [[v for k, v in _OK.items() if k != "reg"]])
    with pytest.raises(ValueError, match=r"missing column\(s\) reg"):
        read_search_results(tmp_path / "search.csv")
