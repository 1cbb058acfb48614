"""Where trials run: in this process, in a local process pool, or on a Dask cluster. Same results from each."""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterator

import numpy as np

from pipeline.errors import PipelineError
from pipeline.common.params import ParamsError
from pipeline.search.store import code_fingerprint
from pipeline.search.trial import Trial, TrialTask, run_task

# Variables that cap the BLAS / OpenMP thread pools of a worker process (read when numpy loads).
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PR_SET_PDEATHSIG = 1
RESUME_HINT = "finished trials and each running trial's last epoch are kept in the trial store: rerun to resume"


class SerialExecutor:
    """Runs the trials one after the other in this process (debugging, tiny searches)."""

    workers = 1
    name = "serial"

    def __init__(self, data: dict[str, np.ndarray]) -> None:
        self.data = data

    def __enter__(self) -> "SerialExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, tasks: list[TrialTask]) -> Iterator[Trial]:
        """Each task's trial, as it finishes."""
        for task in tasks:
            yield run_task(task, self.data)


# ---- local process pool ----

_WORKER_DATA: dict[str, np.ndarray] = {}


def _die_with_parent(parent: int) -> None:
    """Make this worker exit when `parent` dies: the kernel's parent-death signal, plus a watchdog thread."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_worker(data: dict[str, np.ndarray], parent: int) -> None:
    _die_with_parent(parent)
    _WORKER_DATA.clear()
    _WORKER_DATA.update(data)


def _run_in_worker(task: TrialTask) -> Trial:
    return run_task(task, _WORKER_DATA)


@contextlib.contextmanager
def thread_env(threads: int) -> Iterator[None]:
    """Set the BLAS thread variables for processes started inside the block."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: str(threads) for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def resolve_workers(requested: int, num_trials: int) -> int:
    """Worker count: `requested`, or one per CPU core when 0; never more than the trials."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or cores, num_trials))


class LocalExecutor:
    """A pool of spawned worker processes, one BLAS thread each, that die with this process.

    The data reaches each worker once (pool initializer). A worker that dies mid-trial breaks the
    pool: the unfinished trials are resubmitted to a fresh pool once (they continue from their
    checkpoints); a second death stops the search with an error naming the unfinished trials.
    """

    name = "local"
    restarts = 1

    def __init__(self, data: dict[str, np.ndarray], workers: int) -> None:
        self.data, self.workers = data, workers
        self.pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("spawn")
        with thread_env(1):  # spawned workers read these when they import numpy
            pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                       initargs=(self.data, os.getpid()))
            # Start every worker now, while the variables are set.
            for f in [pool.submit(os.getpid) for _ in range(self.workers)]:
                f.result()
        return pool

    def __enter__(self) -> "LocalExecutor":
        self.pool = self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)
            self.pool = None

    def run(self, tasks: list[TrialTask]) -> Iterator[Trial]:
        """Each task's trial, in completion order."""
        pending = {t.index: t for t in tasks}
        for attempt in range(self.restarts + 1):
            futures = {self.pool.submit(_run_in_worker, t): t.index for t in pending.values()}
            try:
                for fut in as_completed(futures):
                    trial = fut.result()
                    del pending[futures[fut]]
                    yield trial
                return
            except BrokenProcessPool:
                self.pool.shutdown(wait=False, cancel_futures=True)
                names = ", ".join(str(i) for i in sorted(pending))
                if attempt == self.restarts:
                    raise PipelineError(f"a search worker process died again while trials {names} were unfinished; "
                                       f"{RESUME_HINT}") from None
                print(f"search: a worker process died; restarting trials {names} from their checkpoints",
                      file=sys.stderr)
                self.pool = self._start()


# ---- Dask ----

def dask_address(configured: str | None) -> str:
    """The scheduler address: search.dask.address, else $DASK_SCHEDULER_ADDRESS."""
    address = configured or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if not address:
        raise ParamsError("search.executor is dask but neither params.yaml:search.dask.address nor "
                         "DASK_SCHEDULER_ADDRESS is set; give the scheduler's address, e.g. tcp://10.0.0.1:8786")
    return address


class WorkerCodeMismatch(PipelineError):
    """A Dask worker refused a trial: its training code is not the code the trial was keyed with."""

    def __init__(self, address: str, worker_sha: str, trial_sha: str) -> None:
        super().__init__(f"Dask worker {address} refused a trial: its training code has SHA-256 {worker_sha}, "
                         f"the trial was keyed with {trial_sha}")
        self.address, self.worker_sha, self.trial_sha = address, worker_sha, trial_sha

    def __reduce__(self):  # noqa: ANN204 (pickled back to the client with its fields, not its message)
        return type(self), (self.address, self.worker_sha, self.trial_sha)


def _run_checked(task: TrialTask, data: dict[str, np.ndarray]) -> Trial:
    """On a Dask worker: run the trial only if this worker's training code is the code it was keyed with."""
    from distributed import get_worker

    if task.code_sha != code_fingerprint():
        raise WorkerCodeMismatch(get_worker().address, code_fingerprint(), task.code_sha)
    return run_task(task, data)


class DaskExecutor:
    """Trials as tasks on a Dask distributed scheduler; the data is broadcast to every worker once.

    A task whose worker dies is rescheduled by Dask (distributed.scheduler.allowed-failures times) and
    continues from its checkpoint when the store is on a filesystem the workers share; past that the
    search stops with an error naming the trial. Each trial carries the SHA-256 of this process's
    training code (the trial store's code key); a worker running other code refuses it. Before
    submitting, and after a refusal, the search stops naming every worker to restart. While the search
    runs, the workers' statistical profiler is paused and malloc keeps freed memory for reuse
    (pipeline.search.dask_worker).
    """

    name = "dask"

    def __init__(self, data: dict[str, np.ndarray], address: str) -> None:
        self.data, self.address = data, address
        self.client = None
        self.workers = 0

    def __enter__(self) -> "DaskExecutor":
        from distributed import Client

        try:
            self.client = Client(self.address, timeout="20s")
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        self.workers = len(self.client.scheduler_info()["workers"])
        if self.workers == 0:
            try:
                self.client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                self.client.close()
                raise TimeoutError(f"no Dask worker joined the scheduler at {self.address} within 60 s; start some "
                                   f"with `dask worker {self.address}` (PYTHONPATH=<this checkout>)") from None
            self.workers = len(self.client.scheduler_info()["workers"])
        [self.data_future] = self.client.scatter([self.data], broadcast=True, hash=True)
        from pipeline.search.dask_worker import SearchWorker

        self.client.register_plugin(SearchWorker())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            from pipeline.search.dask_worker import SearchWorker

            with contextlib.suppress(Exception):  # best effort: the cluster may already be gone
                self.client.unregister_worker_plugin(SearchWorker.name)
            self.client.close()
            self.client = None

    def _check_workers(self, code_sha: str, refusal: WorkerCodeMismatch | None = None) -> None:
        """Stop the search, in one line naming each, if any worker's training code is not `code_sha`."""
        try:
            shas = self.client.run(code_fingerprint)
        except Exception:  # noqa: BLE001 (a worker too different to answer: rely on the per-trial check)
            shas = {}
        stale = {a: sha for a, sha in sorted(shas.items()) if sha != code_sha}
        if refusal is not None:
            stale = stale or {refusal.address: refusal.worker_sha}
        if stale:
            root = Path(__file__).resolve().parents[2]
            workers = ", ".join(f"{a} (SHA-256 {sha})" for a, sha in stale.items())
            raise PipelineError(f"Dask worker(s) {workers} run other training code than this search "
                                f"(SHA-256 {code_sha}); restart them from this checkout "
                                f"(dask worker {self.address}, with PYTHONPATH={root})")

    def run(self, tasks: list[TrialTask]) -> Iterator[Trial]:
        """Each task's trial, in completion order."""
        from distributed import as_completed as dask_completed
        from distributed.scheduler import KilledWorker

        code_sha = code_fingerprint()
        self._check_workers(code_sha)  # the workers present now; any joining later check each trial
        tasks = [dataclasses.replace(t, code_sha=code_sha) for t in tasks]
        futures = {self.client.submit(_run_checked, t, self.data_future, pure=False,
                                      key=f"trial-{t.index}-epoch-{t.until_epoch}-{os.urandom(4).hex()}"): t.index
                   for t in tasks}
        try:
            for fut in dask_completed(futures):
                try:
                    yield fut.result()
                except KilledWorker as exc:
                    raise PipelineError(f"trial {futures[fut]} failed: its Dask workers kept dying ({exc}); "
                                       f"{RESUME_HINT}") from None
                except WorkerCodeMismatch as exc:
                    self._check_workers(code_sha, exc)
        finally:
            for fut in futures:
                fut.cancel()
