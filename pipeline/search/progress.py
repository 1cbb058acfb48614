"""Search progress: trials done / total, the best so far, time left; a bar on a terminal, else one line each."""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from tqdm import tqdm

from pipeline.search.trial import Trial


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class SearchProgress:
    """Tracks finished trials and epochs; time left = remaining planned epochs at the rate measured so far.

    Epochs taken from the trial store count as done but not in the rate, so a resumed search does not
    promise a finish it cannot keep.
    """

    def __init__(self, total_trials: int, total_epochs: int, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total_trials, self.total_epochs = total_trials, total_epochs
        self.done_trials = self.done_epochs = self.trained_epochs = 0
        self.best: Trial | None = None
        self.clock, self.start = clock, clock()
        self.bar = tqdm(total=total_trials, desc="search", unit="trial", file=self.stream, disable=not self.tty,
                        dynamic_ncols=True)

    def time_left(self) -> float | None:
        """Seconds left, or None before the first trained epoch."""
        if self.trained_epochs == 0:
            return None
        rate = (self.clock() - self.start) / self.trained_epochs
        return rate * max(0, self.total_epochs - self.done_epochs)

    def _say(self, line: str) -> None:
        if self.tty:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def trial_done(self, trial: Trial, epochs: int) -> None:
        """Count a finished trial (or rung of a trial) that accounted for `epochs` epochs of the plan."""
        self.done_trials += 1
        self.done_epochs += epochs
        self.trained_epochs += trial.epochs_trained
        if trial.status == "ok" and (self.best is None or (trial.best_val_acc, -trial.index)
                                     > (self.best.best_val_acc, -self.best.index)):
            self.best = trial
        left = self.time_left()
        best = "none yet" if self.best is None else f"{self.best.best_val_acc:.4f} (trial {self.best.index})"
        acc = (f"diverged" if trial.status != "ok"
               else f"val acc {trial.best_val_acc:.4f} at epoch {trial.best_epoch}/{trial.epochs}")
        source = "from store" if trial.from_store else f"{trial.seconds:.1f} s"
        self._say(f"search: [{self.done_trials}/{self.total_trials}] trial {trial.index} {trial.overrides}: {acc} "
                  f"({source}); best so far {best}" + ("" if left is None else f"; about {_duration(left)} left"))
        self.bar.update(1)
        self.bar.set_postfix_str(f"best {best}" + ("" if left is None else f", {_duration(left)} left"),
                                 refresh=False)

    def rung_done(self, rung: int, rungs: int, epochs: int, kept: list[int]) -> None:
        """One line when a rung of successive halving ends."""
        self._say(f"search: rung {rung + 1}/{rungs} done at {epochs} epochs; "
                  f"{len(kept)} trial(s) go on: {', '.join(map(str, kept))}")

    def close(self) -> None:
        self.bar.close()
