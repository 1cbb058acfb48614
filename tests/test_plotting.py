"""Tests for pipeline.plotting: valid, correctly sized, byte-reproducible PNGs and input validation."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.image as mpimg
import numpy as np
import pytest

from pipeline import plotting as P

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- synthetic inputs


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def _histories(num_iter: int = 300, num_epochs: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng()
    loss = 2.3 * np.exp(-np.arange(num_iter) / 80) + 0.1 * rng.random(num_iter)
    epochs = np.arange(num_epochs + 1)
    return loss, 0.97 - 0.87 * np.exp(-epochs), 0.95 - 0.85 * np.exp(-epochs)


def _confusion() -> np.ndarray:
    rng = _rng()
    m = rng.integers(0, 8, (10, 10))
    np.fill_diagonal(m, rng.integers(900, 1100, 10))
    return m


def _trials() -> list[dict]:
    rng = _rng()
    out = []
    for reg in (0.0, 1e-3, 0.1):
        for lr in (1e-3, 1e-1):
            for hd in (32, 64):
                if lr == 1e-1 and hd == 64 and reg == 0.0:
                    out.append({"lr": lr, "hidden_dim": hd, "reg": reg, "best_val_acc": None, "status": "diverged"})
                else:
                    acc = float(0.9 + 0.08 * rng.random())
                    out.append({"lr": lr, "hidden_dim": hd, "reg": reg, "best_val_acc": acc, "status": "ok"})
    return out


def _misclassified(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = _rng()
    return (rng.integers(0, 256, (n, 784), dtype=np.uint8), rng.integers(0, 10, n), rng.integers(0, 10, n))


# Each case: name -> (function drawing to a path, expected figure size in inches).
CASES: dict[str, tuple[Callable[[Path], object], tuple[float, float]]] = {
    "training_curves": (lambda p: P.plot_training_curves(*_histories(), p, title="run"), P.FIGSIZE_TRAINING),
    "training_curves_short": (lambda p: P.plot_training_curves([2.3], [0.1], [0.1], p), P.FIGSIZE_TRAINING),
    "w1_tiles_256": (lambda p: P.plot_w1_tiles(_rng().standard_normal((784, 256)), p, title="W1"), P.FIGSIZE_W1),
    "w1_tiles_1": (lambda p: P.plot_w1_tiles(_rng().standard_normal((784, 1)), p), P.FIGSIZE_W1),
    "w2_tiles_256": (lambda p: P.plot_w2_tiles(_rng().standard_normal((256, 10)), p, title="W2"), P.FIGSIZE_W2),
    "w2_tiles_30": (lambda p: P.plot_w2_tiles(_rng().standard_normal((30, 10)), p), P.FIGSIZE_W2),
    "confusion_matrix": (lambda p: P.plot_confusion_matrix(_confusion(), p, title="test"), P.FIGSIZE_CONFUSION),
    "misclassified_36": (lambda p: P.plot_misclassified(*_misclassified(50), p), P.misclassified_figsize(36)),
    "misclassified_5": (lambda p: P.plot_misclassified(*_misclassified(5), p, title="x"), P.misclassified_figsize(5)),
    "misclassified_0": (lambda p: P.plot_misclassified(*_misclassified(0), p), P.misclassified_figsize(0)),
    "search_results": (lambda p: P.plot_search_results(_trials(), p, title="grid"), P.search_figsize(_trials())),
    "search_results_tiny": (lambda p: P.plot_search_results(_trials()[:2], p), P.search_figsize(_trials()[:2])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_png_valid_sized_and_reproducible(name: str, tmp_path: Path) -> None:
    draw, figsize = CASES[name]
    first, second = tmp_path / "a" / f"{name}.png", tmp_path / f"{name}.png"
    assert draw(first) == first
    draw(second)
    data = first.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert b"Software" not in data and b"matplotlib" not in data.lower()
    pixels = mpimg.imread(first)
    expected = (round(figsize[1] * P.DPI), round(figsize[0] * P.DPI))
    assert pixels.shape[:2] == expected
    assert pixels.std() > 0.01, "blank image"
    assert data == second.read_bytes(), "rendering twice gave different bytes"
    assert not list(tmp_path.rglob("*.tmp")), "temporary file left behind"


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize("hidden,shape", [(25, (5, 5)), (30, (5, 6)), (100, (10, 10)), (144, (12, 12)),
                                          (256, (16, 16)), (7, (3, 3)), (1, (1, 1)), (10, (3, 4))])
def test_w2_tile_shape(hidden: int, shape: tuple[int, int]) -> None:
    rows, cols = P.w2_tile_shape(hidden)
    assert (rows, cols) == shape
    assert rows * cols >= hidden and rows <= cols <= rows + 1


def test_w2_tile_shape_general() -> None:
    for h in range(1, 1100):
        rows, cols = P.w2_tile_shape(h)
        assert rows * cols >= h and rows <= cols <= rows + 1
        assert (rows * cols - h) < cols  # padding never fills a whole row
    with pytest.raises(ValueError):
        P.w2_tile_shape(0)


@pytest.mark.parametrize("hidden", [1, 2, 7, 50, 256, 1024])
def test_w1_mosaic_layout(hidden: int) -> None:
    W1 = _rng().standard_normal((784, hidden)) * np.arange(1, hidden + 1)
    gap = 1
    rows, cols = P.w1_grid(hidden)
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


def test_search_results_duplicates_take_best_and_all_diverged(tmp_path: Path) -> None:
    trials = [
        {"lr": 0.01, "hidden_dim": 50, "reg": 0.0, "best_val_acc": 0.5, "status": "ok", "seed": 1},
        {"lr": 0.01, "hidden_dim": 50, "reg": 0.0, "best_val_acc": 0.9, "status": "ok", "seed": 2},
        {"lr": 0.01, "hidden_dim": 50, "reg": 0.0, "best_val_acc": None, "status": "diverged", "seed": 3},
    ]
    P.plot_search_results(trials, tmp_path / "dup.png")
    P.plot_search_results([dict(trials[2])], tmp_path / "div.png")
    assert (tmp_path / "dup.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (tmp_path / "div.png").read_bytes()[:8] == PNG_SIGNATURE


def test_existing_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "cm.png"
    path.write_bytes(b"old")
    P.plot_confusion_matrix(_confusion(), path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_failed_plot_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cm.png"

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("render failed")

    monkeypatch.setattr(P.Figure, "savefig", boom)
    with pytest.raises(RuntimeError):
        P.plot_confusion_matrix(_confusion(), path)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- validation


def _bad_calls() -> list[tuple[str, Callable[[Path], object], str]]:
    loss, tr, va = _histories()
    imgs, t, p = _misclassified(4)
    ok_trial = {"lr": 0.1, "hidden_dim": 10, "reg": 0.0, "best_val_acc": 0.9, "status": "ok"}
    return [
        ("loss_2d", lambda q: P.plot_training_curves(loss.reshape(-1, 2), tr, va, q), "loss_history"),
        ("loss_empty", lambda q: P.plot_training_curves([], tr, va, q), "loss_history"),
        ("acc_mismatch", lambda q: P.plot_training_curves(loss, tr, va[:-1], q), "val_acc_history"),
        ("train_2d", lambda q: P.plot_training_curves(loss, tr[:, None], va, q), "train_acc_history"),
        ("w1_rows", lambda q: P.plot_w1_tiles(np.zeros((783, 5)), q), r"W1.*\(784, H\)"),
        ("w1_transposed", lambda q: P.plot_w1_tiles(np.zeros((5, 784)), q), r"W1.*\(784, H\)"),
        ("w1_1d", lambda q: P.plot_w1_tiles(np.zeros(784), q), r"W1.*\(784, H\)"),
        ("w1_empty", lambda q: P.plot_w1_tiles(np.zeros((784, 0)), q), r"W1.*\(784, H\)"),
        ("w2_cols", lambda q: P.plot_w2_tiles(np.zeros((64, 9)), q), r"W2.*\(H, 10\)"),
        ("w2_transposed", lambda q: P.plot_w2_tiles(np.zeros((10, 64)), q), r"W2.*\(H, 10\)"),
        ("w2_3d", lambda q: P.plot_w2_tiles(np.zeros((8, 8, 10)), q), r"W2.*\(H, 10\)"),
        ("cm_shape", lambda q: P.plot_confusion_matrix(np.zeros((9, 10), int), q), r"matrix.*\(10, 10\)"),
        ("cm_1d", lambda q: P.plot_confusion_matrix(np.zeros(100, int), q), r"matrix.*\(10, 10\)"),
        ("cm_negative", lambda q: P.plot_confusion_matrix(-np.ones((10, 10), int), q), "matrix"),
        ("cm_fractional", lambda q: P.plot_confusion_matrix(np.full((10, 10), 0.5), q), "matrix"),
        ("imgs_shape", lambda q: P.plot_misclassified(imgs[:, :700], t, p, q), r"images.*\(N, 784\)"),
        ("imgs_1d", lambda q: P.plot_misclassified(imgs[0], t[:1], p[:1], q), r"images.*\(N, 784\)"),
        ("true_len", lambda q: P.plot_misclassified(imgs, t[:3], p, q), r"true_labels.*\(4,\)"),
        ("pred_2d", lambda q: P.plot_misclassified(imgs, t, p[:, None], q), "pred_labels"),
        ("pred_range", lambda q: P.plot_misclassified(imgs, t, p + 10, q), "pred_labels"),
        ("max_images", lambda q: P.plot_misclassified(imgs, t, p, q, max_images=0), "max_images"),
        ("trials_empty", lambda q: P.plot_search_results([], q), "trials"),
        ("trials_dict", lambda q: P.plot_search_results(ok_trial, q), "trials"),
        ("trial_key", lambda q: P.plot_search_results([{k: v for k, v in ok_trial.items() if k != "reg"}], q),
         r"trials\[0\].*reg"),
        ("trial_status", lambda q: P.plot_search_results([{**ok_trial, "status": "failed"}], q), r"trials\[0\]"),
        ("trial_ok_none", lambda q: P.plot_search_results([{**ok_trial, "best_val_acc": None}], q),
         r"trials\[0\]\['best_val_acc'\]"),
        ("trial_percent", lambda q: P.plot_search_results([{**ok_trial, "best_val_acc": 98.5}], q),
         r"best_val_acc"),
        ("trial_lr", lambda q: P.plot_search_results([ok_trial, {**ok_trial, "lr": -1.0}], q), r"trials\[1\]\['lr'\]"),
        ("trial_hidden", lambda q: P.plot_search_results([{**ok_trial, "hidden_dim": 1.5}], q), "hidden_dim"),
        ("title", lambda q: P.plot_w2_tiles(np.zeros((16, 10)), q, title=None), "title"),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("case", _bad_calls(), ids=lambda c: c[0])
def test_bad_input_raises_value_error(case: tuple[str, Callable[[Path], object], str], tmp_path: Path) -> None:
    _, call, match = case
    path = tmp_path / "out.png"
    with pytest.raises(ValueError, match=match):
        call(path)
    assert not path.exists()
