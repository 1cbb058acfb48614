"""How long a search trains its candidates: successive halving's rungs and who survives them."""
from __future__ import annotations

import math
from typing import Sequence

from pipeline.search.trial import Trial


def rung_epochs(min_epochs: int, eta: int, num_epochs: int, num_candidates: int) -> list[int]:
    """Epoch targets of successive halving's rungs: min_epochs * eta**r, the last one num_epochs.

    A rung trains its survivors up to its target; the rung that leaves a single survivor, or whose
    target would pass num_epochs, is the last and trains to num_epochs.
    """
    epochs, n, target = [], num_candidates, min_epochs
    while target < num_epochs and n > 1:
        epochs.append(target)
        n = max(1, math.ceil(n / eta))
        target *= eta
    return epochs + [num_epochs]


def survivors(trials: Sequence[Trial], keep: int) -> list[int]:
    """Indices of the `keep` best trials of a rung (best val acc so far; the earlier trial on a tie), in trial order.

    A diverged trial never survives.
    """
    ok = [t for t in trials if t.status == "ok"]
    ranked = sorted(ok, key=lambda t: (-t.best_val_acc, t.index))
    return sorted(t.index for t in ranked[:keep])


def keep_count(n: int, eta: int) -> int:
    """How many of a rung's n candidates go on to the next rung."""
    return max(1, math.ceil(n / eta))
