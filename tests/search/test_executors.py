"""pipeline.search.executors: local pool and Dask give the serial results; workers die with their parent;
a worker killed mid-trial costs at most the epoch in flight. Dask runs on a real LocalCluster on 127.0.0.1."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import distributed
import psutil
import pytest

from pipeline.search.runner import run_search
from pipeline.errors import PipelineError
from pipeline.search.store import TrialStore, code_fingerprint, data_digest, trial_key
from pipeline.search.executors import (DaskExecutor, LocalExecutor, SerialExecutor, WorkerCodeMismatch, _run_checked,
                                       dask_address)
from pipeline.search.trial import TrialTask
from support import ROOT, same_trials, search_params, small_data

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
        from pipeline.search.runner import run_search
        from pipeline.search.store import TrialStore
        from support import search_params, small_data
        p = search_params({{"hidden_dim": [64, 96]}}, {{"num_epochs": 100000, "batch_size": 20, "lr": 0.05}})
        run_search(p, small_data(n=3000, n_val=500), store=TrialStore({str(tmp_path / "store")!r}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env)
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


def _checkpoints(p, data, store: TrialStore) -> list[Path]:
    """Each trial's checkpoint file in `store`, in trial order (as run_search names them)."""
    data_sha, code_sha = data_digest(data), code_fingerprint()
    return [Path(store.checkpoint_path(trial_key(c, data_sha, code_sha))) for c in p.trials()]


class Killer:
    """A thread that kill -9s the process `victim()` names (a pid, or None while not ready) once it is
    not None; `killed` holds the pid, `error` what went wrong, checked by `join`."""

    def __init__(self, victim, what: str) -> None:
        self.killed: int | None = None
        self.error: BaseException | None = None

        def kill() -> None:
            try:
                pid = _wait_for(victim, 120, what)
                os.kill(pid, signal.SIGKILL)
                self.killed = pid
            except BaseException as exc:  # reported by join(), not lost in the thread
                self.error = exc

        self.thread = threading.Thread(target=kill, daemon=True)
        self.thread.start()

    def join(self) -> int:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.killed is not None
        return self.killed


def test_local_worker_killed_mid_trial_is_restarted_from_its_checkpoint(tmp_path):
    p = search_params(**SLOW)
    data = _slow_data()
    with SerialExecutor(data) as serial:
        expected = run_search(p, data, executor=serial).trials
    store = TrialStore(tmp_path / "store")
    with LocalExecutor(data, 2) as executor:
        pids = [c.pid for c in psutil.Process().children() if c.pid in {pp.pid for pp in executor.pool._processes.values()}]
        checkpoints = _checkpoints(p, data, store)
        # Two workers, two trials: once both trials have a checkpoint, each worker is inside its own.
        killer = Killer(lambda: pids[0] if all(c.exists() for c in checkpoints) else None, "both checkpoints")
        result = run_search(p, data, executor=executor, store=store)
        assert killer.join() == pids[0]
    assert same_trials(result.trials, expected)
    assert any(t.epochs_trained < 12 for t in result.trials), "no trial continued from its checkpoint"


@pytest.fixture(scope="module")
def cluster():
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


def test_dask_workers_run_trials_like_pool_workers_only_while_a_search_holds_the_cluster(cluster):
    import distributed

    data = small_data()
    with distributed.Client(cluster.scheduler_address) as client:
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
        pids = dask.client.run(os.getpid)
        victim = sorted(pids)[0]
        checkpoints = _checkpoints(p, data, store)

        def victim_inside_its_trial() -> int | None:
            """The victim's pid once the trial it is running has written its own checkpoint."""
            running = dask.client.processing(workers=[victim]).get(victim, [])
            indices = [int(re.match(r"trial-(\d+)-", str(key)).group(1)) for key in running]
            return pids[victim] if len(indices) == 1 and checkpoints[indices[0]].exists() else None

        killer = Killer(victim_inside_its_trial, "the victim's own checkpoint")
        result = run_search(p, data, executor=dask, store=store)
        assert killer.join() == pids[victim]
    assert same_trials(result.trials, expected)
    assert any(t.epochs_trained < 12 for t in result.trials), "no trial continued from its checkpoint"


def test_dask_worker_running_other_code_refuses_trials_and_the_search_names_it(tmp_path, monkeypatch):
    """A worker started from a copy of the package with one module edited refuses every trial."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "pipeline", copy / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "pipeline/nn/layers.py", "a") as f:
        f.write("\n# edited on this worker only\n")
    assert code_fingerprint(copy) != code_fingerprint()
    data = small_data()
    p = search_params({"hidden_dim": [4, 8]})
    env = {**os.environ, "PYTHONPATH": str(copy), "OPENBLAS_NUM_THREADS": "1"}
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                  cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with DaskExecutor(data, cluster.scheduler_address) as dask:
                [(address, worker_sha)] = dask.client.run(code_fingerprint).items()
                assert worker_sha == code_fingerprint(copy)
                expected = (rf"^Dask worker\(s\) {address} \(SHA-256 {worker_sha}\) run other training code than "
                            rf"this search \(SHA-256 {code_fingerprint()}\); restart them from this checkout")
                # Checked before any trial is submitted ...
                with pytest.raises(PipelineError, match=expected) as refused:
                    run_search(p, data, executor=dask)
                assert "\n" not in str(refused.value)
                # ... and by the worker itself, for each trial: its refusal names both hashes and its address.
                task = TrialTask(0, p.trials()[0], {}, 1, code_sha=code_fingerprint())
                with pytest.raises(WorkerCodeMismatch, match=rf"^Dask worker {address} refused a trial: its "
                                                             rf"training code has SHA-256 {worker_sha}, the trial "
                                                             rf"was keyed with {code_fingerprint()}$"):
                    dask.client.submit(_run_checked, task, dask.data_future, pure=False).result()
                # As if the worker had joined after the check before submitting: the search stops at its
                # first refusal, with the same line.
                check = dask._check_workers

                def check_only_after_a_refusal(code_sha, refusal=None):
                    if refusal is not None:
                        check(code_sha, refusal)

                monkeypatch.setattr(dask, "_check_workers", check_only_after_a_refusal)
                with pytest.raises(PipelineError, match=expected):
                    run_search(p, data, executor=dask)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
