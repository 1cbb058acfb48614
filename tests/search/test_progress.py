"""pipeline.search.progress: one line per finished trial without a terminal, with best so far and time left."""
from __future__ import annotations

import io

from pipeline.search.progress import SearchProgress
from pipeline.search.trial import Trial


def _trial(index, acc, trained=2, from_store=False):
    return Trial(index, {"lr": 0.1}, "ok" if acc is not None else "diverged", acc, 2, 0.5, 2, 3.0,
                 epochs_trained=trained, from_store=from_store)


def test_lines_name_the_trial_the_best_so_far_and_the_time_left():
    now = [0.0]
    out = io.StringIO()
    progress = SearchProgress(4, 8, stream=out, clock=lambda: now[0], tty=False)
    now[0] = 10.0
    progress.trial_done(_trial(0, 0.8), 2)
    now[0] = 20.0
    progress.trial_done(_trial(1, None, trained=1), 2)
    progress.trial_done(_trial(2, 0.9, trained=0, from_store=True), 2)
    progress.rung_done(0, 2, 2, [2])
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == ("search: [1/4] trial 0 {'lr': 0.1}: val acc 0.8000 at epoch 2/2 (3.0 s); "
                        "best so far 0.8000 (trial 0); about 0m30s left")
    assert "diverged" in lines[1] and "best so far 0.8000 (trial 0)" in lines[1]
    # 3 trained epochs in 20 s; 2 of 8 planned epochs left.
    assert lines[2].endswith("(from store); best so far 0.9000 (trial 2); about 0m13s left")
    assert lines[3] == "search: rung 1/2 done at 2 epochs; 1 trial(s) go on: 2"


def test_no_time_left_before_any_epoch_was_trained():
    progress = SearchProgress(1, 2, stream=io.StringIO(), tty=False)
    assert progress.time_left() is None
    progress.close()
