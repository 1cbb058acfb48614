"""Hyperparameter search: strategies (grid, random, successive halving), a resumable trial store, executors.

Modules: settings (params.yaml:search), strategies (which configs, how many epochs), trial (train one
config up to an epoch from its checkpoint), store (finished trials and checkpoints on disk), executors
(serial, local process pool, Dask), progress (what the user sees), runner (puts them together).
"""
from __future__ import annotations

from .executors import resolve_workers
from .progress import SearchProgress
from .runner import SearchResult, make_executor, plan, planned_epochs, run_search
from .settings import GRID_KEYS, SearchParams
from .store import DEFAULT_DIR, TrialStore
from .trial import Trial, TrialTask, best_trial, run_task

# params.yaml:search keys that change how the search runs, never what it finds: dvc.yaml leaves them out
# of the search stage's params so that changing them does not rerun it.
RUNTIME_KEYS = ("search.workers", "search.executor", "search.dask")

__all__ = ["DEFAULT_DIR", "GRID_KEYS", "RUNTIME_KEYS", "SearchParams", "SearchProgress", "SearchResult", "Trial",
           "TrialStore", "TrialTask", "best_trial", "make_executor", "plan", "planned_epochs", "resolve_workers",
           "run_search", "run_task"]
