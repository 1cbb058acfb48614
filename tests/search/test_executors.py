"""pipeline.search.executors: local pool and Dask give the serial results; workers die with their parent;
a worker killed mid-trial costs at most the epoch in flight. Dask runs on a real LocalCluster on 127.0.0.1."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from pipeline.search.runner import run_search

from pipeline.search.store import TrialStore
from pipeline.search.executors import DaskExecutor, LocalExecutor, SerialExecutor, dask_address
from search_helpers import same_trials, search_params, small_data

ROOT = Path(__file__).resolve().parents[2]
# Trials long enough (a few seconds) to be killed in the middle.
SLOW = dict(grid={"hidden_dim": [64, 96]}, base={"num_epochs": 12, "batch_size": 20, "lr": 0.05})


def _slow_data():
    return small_data(n=3000, n_val=500)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_dask_address_from_params_or_environment(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with pytest.raises(ValueError, match="neither params.yaml:search.dask.address nor DASK_SCHEDULER_ADDRESS"):
        dask_address(None)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    assert dask_address(None) == "tcp://127.0.0.1:1" and dask_address("tcp://h:2") == "tcp://h:2"


def test_local_workers_exit_when_the_parent_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        from pipeline.search.runner import run_search
        from pipeline.search.store import TrialStore
        from search_helpers import search_params, small_data
        p = search_params({{"hidden_dim": [64, 96]}}, {{"num_epochs": 100000, "batch_size": 20, "lr": 0.05}})
        run_search(p, small_data(n=3000, n_val=500), store=TrialStore({str(tmp_path / "store")!r}))
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    workers: list[psutil.Process] = []
    try:
        # Both trials have written a checkpoint: both workers are in the middle of training.
        _wait_for(lambda: len(list((tmp_path / "store").glob("*.ckpt.npz"))) == 2, 120, "two checkpoints")
        workers = psutil.Process(parent.pid).children(recursive=True)
        assert len(workers) >= 2
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive, f"workers still alive 5 s after kill -9 of their parent: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
        for worker in workers:  # still alive only if the test failed
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()


def _kill_one_worker_mid_trial(store: TrialStore, pids: list[int]) -> threading.Thread:
    """Kill -9 one worker as soon as every worker's trial has written a checkpoint (so the killed worker is in
    the middle of a trial it can resume, whichever trial the scheduler gave it)."""

    def kill() -> None:
        _wait_for(lambda: len(list(store.root.glob("*.ckpt.npz"))) >= len(pids), 120, "a checkpoint per worker")
        os.kill(pids[0], signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_local_worker_killed_mid_trial_is_restarted_from_its_checkpoint(tmp_path):
    p = search_params(**SLOW)
    data = _slow_data()
    with SerialExecutor(data) as serial:
        expected = run_search(p, data, executor=serial).trials
    store = TrialStore(tmp_path / "store")
    with LocalExecutor(data, 2) as executor:
        pids = [c.pid for c in psutil.Process().children() if c.pid in {pp.pid for pp in executor.pool._processes.values()}]
        killer = _kill_one_worker_mid_trial(store, pids)
        result = run_search(p, data, executor=executor, store=store)
        killer.join()
    assert same_trials(result.trials, expected)
    assert any(t.epochs_trained < 12 for t in result.trials), "no trial continued from its checkpoint"


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")  # pinned in requirements.txt: always there
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        yield cluster


def test_serial_local_and_dask_give_identical_trials(cluster, tmp_path):
    grid = {"lr": [0.5, 0.05], "hidden_dim": [4, 16], "reg": [0.0, 0.01]}
    data = small_data()
    p = search_params(grid, {"num_epochs": 3})
    with SerialExecutor(data) as serial:
        expected = run_search(p, data, executor=serial).trials
    with LocalExecutor(data, 2) as local:
        assert same_trials(run_search(p, data, executor=local).trials, expected)
    with DaskExecutor(data, cluster.scheduler_address) as dask:
        assert dask.workers == 2
        # The data was broadcast once: one key, held by both workers; the trials only refer to it.
        holders = dask.client.who_has(dask.data_future)[dask.data_future.key]
        assert len(holders) == 2
        assert same_trials(run_search(p, data, executor=dask).trials, expected)
        halving = search_params(grid, {"num_epochs": 3}, strategy="halving", halving={"min_epochs": 1, "eta": 2})
        with SerialExecutor(data) as serial:
            serial_halving = run_search(halving, data, executor=serial).trials
        assert same_trials(run_search(halving, data, executor=dask, store=TrialStore(tmp_path)).trials,
                           serial_halving)


def _profiler_running(dask_worker) -> list[bool]:
    return [dask_worker.periodic_callbacks[k].is_running() for k in ("profile", "profile-cycle")]


def _faults_per_megabyte_temporary() -> float:
    """Page faults per 1 MiB temporary allocated, filled and freed, as a training step's temporaries are."""
    import resource

    import numpy as np

    np.ones(1 << 17).sum()  # the first one may fault in fresh heap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        np.ones(1 << 17).sum()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50


def test_dask_workers_run_trials_like_pool_workers_only_while_a_search_holds_the_cluster():
    distributed = pytest.importorskip("distributed")  # pinned in requirements.txt: always there

    data = small_data()
    # A cluster of its own: the module's cluster keeps the timing its kill test was written for.
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0", worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster.scheduler_address) as client:
        assert all(all(v) for v in client.run(_profiler_running).values())
        # The nanny's MALLOC_TRIM_THRESHOLD_ makes every 1 MiB temporary a fresh mmap: 256 page faults.
        assert all(f > 100 for f in client.run(_faults_per_megabyte_temporary).values())
        with DaskExecutor(data, cluster.scheduler_address) as dask:
            during = dask.client.run(_profiler_running)
            assert len(during) == 2 and not any(any(v) for v in during.values())
            assert all(f < 10 for f in dask.client.run(_faults_per_megabyte_temporary).values())
        assert all(all(v) for v in client.run(_profiler_running).values())
        assert all(f > 100 for f in client.run(_faults_per_megabyte_temporary).values())


def test_dask_worker_killed_mid_trial_is_retried_from_its_checkpoint(cluster, tmp_path):
    p = search_params(**SLOW)
    data = _slow_data()
    with SerialExecutor(data) as serial:
        expected = run_search(p, data, executor=serial).trials
    store = TrialStore(tmp_path / "store")
    with DaskExecutor(data, cluster.scheduler_address) as dask:
        pids = list(dask.client.run(os.getpid).values())
        killer = _kill_one_worker_mid_trial(store, pids)
        result = run_search(p, data, executor=dask, store=store)
        killer.join()
    assert same_trials(result.trials, expected)
    assert any(t.epochs_trained < 12 for t in result.trials), "no trial continued from its checkpoint"
