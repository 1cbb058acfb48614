"""pipeline.plotting.search: duplicates, all-diverged grids, and the figure size growing with the grid."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import plotting as P

from .inputs import assert_raises_and_writes_nothing, trials

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_search_results_duplicates_take_best_and_all_diverged(tmp_path: Path) -> None:
    rows = [
        {"lr": 0.01, "hidden_dim": 50, "reg": 0.0, "best_val_acc": 0.5, "status": "ok", "seed": 1},
        {"lr": 0.01, "hidden_dim": 50, "reg": 0.0, "best_val_acc": 0.9, "status": "ok", "seed": 2},
        {"lr": 0.01, "hidden_dim": 50, "reg": 0.0, "best_val_acc": None, "status": "diverged", "seed": 3},
    ]
    P.plot_search_results(rows, tmp_path / "dup.png")
    P.plot_search_results([dict(rows[2])], tmp_path / "div.png")
    assert (tmp_path / "dup.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (tmp_path / "div.png").read_bytes()[:8] == PNG_SIGNATURE
    # The best duplicate wins: the figure equals one drawn from that trial alone.
    P.plot_search_results([rows[1]], tmp_path / "best.png")
    assert (tmp_path / "dup.png").read_bytes() == (tmp_path / "best.png").read_bytes()


def test_figsize_grows_with_the_grid() -> None:
    small, big = P.search_figsize(trials()[:2]), P.search_figsize(trials())
    assert small[0] <= big[0] and small[1] <= big[1] and big != small


def test_no_trials_raises_value_error(tmp_path: Path) -> None:
    assert_raises_and_writes_nothing(lambda q: P.plot_search_results([], q), "trials", tmp_path)


@pytest.mark.parametrize("regs", [1, 3, 4, 7])
def test_panels_wrap_after_three(regs: int) -> None:
    rows = [{"lr": 0.1, "hidden_dim": 8, "reg": float(r), "best_val_acc": 0.5, "status": "ok"} for r in range(regs)]
    w, h = P.search_figsize(rows)
    one_row = P.search_figsize(rows[:1])[1]
    assert h > one_row if regs > 3 else h == one_row
