"""A Dask worker plugin that makes a worker run trials at the cost of a local pool worker.

Two worker defaults cost a trial CPU time without serving the search:

- the statistical profiler: every 10 ms (distributed.worker.profile.interval) the worker's event
  loop takes the GIL and walks the stack of every thread. The search never reads those profiles.
- `MALLOC_TRIM_THRESHOLD_=65536`, which the nanny sets for every worker it starts
  (distributed.nanny.pre-spawn-environ). Any malloc setting turns off glibc's adaptive mmap
  threshold, so every temporary above 128 KiB a training step allocates is mmap-ed, page-faulted
  in and unmapped again: ~10x the page faults of a local pool worker and ~9 % more CPU per trial.

While a search holds the cluster, the plugin pauses the profiler and lets malloc keep freed memory
up to 32 MiB blocks (what glibc's adaptive threshold converges to); when the executor removes the
plugin, the profiler restarts and the 128 KiB / $MALLOC_TRIM_THRESHOLD_ settings come back.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from typing import Any

from distributed import WorkerPlugin

# The worker's periodic callbacks that sample and rotate its profile (distributed.worker.Worker).
PROFILER_CALLBACKS = ("profile", "profile-cycle")
# glibc mallopt parameters (malloc.h) and the values used while a search runs / restored after it.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
SEARCH_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for its adaptive threshold on 64-bit
DEFAULT_MMAP_THRESHOLD = DEFAULT_TRIM_THRESHOLD = 128 * 1024  # glibc's defaults


def set_malloc_thresholds(mmap_threshold: int, trim_threshold: int) -> bool:
    """Set glibc's mmap and trim thresholds in this process; False where there is no glibc mallopt."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL(None).mallopt
        return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))
    return False


class SearchWorker(WorkerPlugin):
    """Worker plugin: `setup` pauses the profiler and raises malloc's thresholds, `teardown` undoes both."""

    name = "pipeline-search-worker"

    def __init__(self) -> None:
        super().__init__()
        self.stopped: list[str] = []

    def setup(self, worker: Any) -> None:
        for key in PROFILER_CALLBACKS:
            callback = worker.periodic_callbacks.get(key)
            if callback is not None and callback.is_running():
                callback.stop()
                self.stopped.append(key)
        set_malloc_thresholds(SEARCH_MMAP_THRESHOLD, 2 * SEARCH_MMAP_THRESHOLD)

    def teardown(self, worker: Any) -> None:
        for key in self.stopped:
            callback = worker.periodic_callbacks.get(key)
            if callback is not None:
                callback.start()
        self.stopped.clear()
        trim = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
        set_malloc_thresholds(DEFAULT_MMAP_THRESHOLD, int(trim) if trim.isdigit() else DEFAULT_TRIM_THRESHOLD)
