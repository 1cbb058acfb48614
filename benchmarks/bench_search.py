#!/usr/bin/env python
"""Search benchmark: executors, halving vs grid, Dask's per-trial overhead, kill -9 then rerun.

Sections (all on params.yaml:search, optionally with fewer epochs / training images):

  executors  the grid on 1 local worker process (the serial baseline: one BLAS thread, like every
             worker), on the local pool with 2 workers, on a Dask LocalCluster with 1 and with 2
             worker processes; wall times, speed-ups, parallel efficiency = T1 / (workers * Tn), and
             whether every executor gave byte-identical trials.
  halving    successive halving (params.yaml:search.halving) vs the grid on the local pool: epochs
             trained, wall time, best point and its val acc.
  overhead   N tiny trials (1 epoch, 8 hidden units, 100 images) in this process vs on a Dask
             LocalCluster of 1 worker: Dask's cost per trial.
  kill       the search stage killed with kill -9 after --kill-after seconds, then rerun: the rerun's
             wall time without the trial store and with it.

Every figure is a ratio or a wall time from this one run; the machine may be shared, so
benchmarks/README.md gives each with the date and conditions it was taken under.

  python benchmarks/bench_search.py --sections executors halving overhead kill
  python benchmarks/bench_search.py --epochs 2 --train-size 11000 --sections executors kill
  python benchmarks/bench_search.py --sections overhead --tiny-trials 50 --json
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline.nn.npz import save_npz
from pipeline.common.params import read_params
from pipeline.search.runner import run_search
from pipeline.search.settings import SearchParams
from pipeline.search.store import TrialStore
from pipeline.search.trial import best_trial
from pipeline.search.executors import DaskExecutor, LocalExecutor, SerialExecutor, thread_env
from pipeline.training import load_solver_data

ROOT = Path(__file__).resolve().parent.parent

SECTIONS = ("executors", "halving", "overhead", "kill")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file with the search section")
    p.add_argument("--data", default=str(ROOT / "data/prepared"), help="prepared split (train.npz, val.npz)")
    p.add_argument("--epochs", type=int, default=None, help="num_epochs of every trial (default: params.yaml's)")
    p.add_argument("--train-size", type=int, default=None, help="use the first N training images (default: all)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to measure")
    p.add_argument("--tiny-trials", type=int, default=300, help="trials of the overhead section")
    p.add_argument("--kill-after", type=float, default=20.0, help="seconds before the kill section's kill -9")
    p.add_argument("--keep-outputs", default=None, help="kill section: copy both reruns' outputs into this folder")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p.parse_args(argv)


def say(args: argparse.Namespace, line: str) -> None:
    if not args.quiet:
        print(f"bench_search: {line}", file=sys.stderr, flush=True)


def load(args: argparse.Namespace) -> tuple[SearchParams, dict[str, np.ndarray], dict[str, Any]]:
    if not Path(args.data).is_dir():
        raise SystemExit(f"bench_search: error: {args.data} does not exist; run `dvc repro split` or pass --data")
    raw = read_params(args.params)["search"]
    if args.epochs:
        raw = {**raw, "base": {**raw["base"], "num_epochs": args.epochs}}
    params = SearchParams.from_dict(raw, "search")
    data = load_solver_data(args.data)
    if args.train_size:
        data["X_train"], data["y_train"] = data["X_train"][: args.train_size], data["y_train"][: args.train_size]
    return params, data, raw


@contextlib.contextmanager
def dask_cluster(workers: int):
    from distributed import LocalCluster

    with thread_env(1), LocalCluster(processes=True, n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                                     dashboard_address=None, worker_dashboard_address=None) as cluster:
        yield cluster


def timed(params: SearchParams, data: dict[str, np.ndarray], executor: Any) -> tuple[float, Any]:
    with tempfile.TemporaryDirectory() as tmp:  # a fresh store: nothing reused, checkpoints written as usual
        start = time.perf_counter()
        result = run_search(params, data, executor=executor, store=TrialStore(tmp))
        return time.perf_counter() - start, result


def children_cpu() -> float:
    """User + system CPU seconds of the reaped child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fingerprint(trials: list) -> list:
    return [(t.row(), t.val_acc, None if t.params is None else {k: v.tobytes() for k, v in t.params.items()})
            for t in trials]


def bench_executors(args: argparse.Namespace, params: SearchParams, data: dict[str, np.ndarray]) -> dict[str, Any]:
    rows, prints = [], []
    runs = [("local, 1 worker (serial)", 1, lambda: LocalExecutor(data, 1)),
            ("local, 2 workers", 2, lambda: LocalExecutor(data, 2)),
            ("dask, 1 worker", 1, "dask"), ("dask, 2 workers", 2, "dask")]
    for name, workers, make in runs:
        say(args, f"executors: {name} ...")
        load, cpu0 = os.getloadavg()[0], children_cpu()
        if make == "dask":
            with dask_cluster(workers) as cluster, DaskExecutor(data, cluster.scheduler_address) as ex:
                seconds, result = timed(params, data, ex)
        else:
            with make() as ex:
                seconds, result = timed(params, data, ex)
        prints.append(fingerprint(result.trials))
        # CPU seconds of the worker processes (reaped when the pool or cluster closed, start-up included):
        # the work done, which contention from other jobs on the machine barely changes, unlike the wall time.
        rows.append({"executor": name, "workers": workers, "seconds": round(seconds, 2),
                     "worker_cpu_s": round(children_cpu() - cpu0, 1), "load": round(load, 1)})
        say(args, f"executors: {name}: {seconds:.1f} s")
    t1 = rows[0]["seconds"]
    for r in rows:
        r["speedup"] = round(t1 / r["seconds"], 2)
        r["efficiency"] = round(t1 / (r["workers"] * r["seconds"]), 2)
    best = best_trial(result.trials)
    return {"rows": rows, "identical": all(p == prints[0] for p in prints), "trials": len(result.trials),
            "epochs": result.epochs_trained, "best": {"trial": best.index, **best.overrides,
                                                      "val_acc": best.best_val_acc}}


def bench_halving(args: argparse.Namespace, params: SearchParams, data: dict[str, np.ndarray]) -> dict[str, Any]:
    rows = {}
    for strategy in ("grid", "halving"):
        say(args, f"halving: {strategy} on 2 local workers ...")
        p = dataclasses.replace(params, strategy=strategy)
        with LocalExecutor(data, 2) as ex:
            seconds, result = timed(p, data, ex)
        best = best_trial(result.trials)
        rows[strategy] = {"strategy": strategy, "epochs": result.epochs_trained, "seconds": round(seconds, 2),
                          "rungs": result.rungs, "best_trial": best.index, "best": best.overrides,
                          "best_val_acc": best.best_val_acc, "params": best.params, "trials": result.trials}
        say(args, f"halving: {strategy}: {seconds:.1f} s, {result.epochs_trained} epochs")
    g, h = rows["grid"], rows["halving"]
    # Halving's winner, continued from its rung checkpoints, against the grid's trial of the same point.
    same_point = g["trials"][h["best_trial"]].params
    same = all(np.array_equal(same_point[k], h["params"][k]) for k in same_point)
    for r in rows.values():
        del r["params"], r["trials"]
    return {"rows": list(rows.values()), "epoch_ratio": round(h["epochs"] / g["epochs"], 3),
            "time_ratio": round(h["seconds"] / g["seconds"], 3),
            "val_acc_gap_points": round(100 * (g["best_val_acc"] - h["best_val_acc"]), 2),
            "winner_params_identical": same}


def bench_overhead(args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    data = {"X_train": rng.integers(0, 256, (100, 784), dtype=np.uint8),
            "y_train": rng.integers(0, 10, 100).astype(np.uint8),
            "X_val": rng.integers(0, 256, (20, 784), dtype=np.uint8),
            "y_val": rng.integers(0, 10, 20).astype(np.uint8)}
    raw = {"strategy": "random", "grid": {"lr": [1e-3]},
           "random": {"trials": args.tiny_trials, "ranges": {"lr": [1e-4, 1e-2], "reg": [1e-4, 1e-1]}},
           "base": {"num_epochs": 1, "hidden_dim": 8, "batch_size": 50, "input_scaling": "unit"}}
    params = SearchParams.from_dict(raw, "overhead")
    say(args, f"overhead: {args.tiny_trials} tiny trials in this process ...")
    with SerialExecutor(data) as ex:
        start = time.perf_counter()
        serial = run_search(params, data, executor=ex)
        t_serial = time.perf_counter() - start
    say(args, f"overhead: the same on a 1-worker Dask LocalCluster ...")
    with dask_cluster(1) as cluster, DaskExecutor(data, cluster.scheduler_address) as ex:
        start = time.perf_counter()
        dask = run_search(params, data, executor=ex)
        t_dask = time.perf_counter() - start
    n = args.tiny_trials
    return {"trials": n, "serial_s": round(t_serial, 2), "dask_s": round(t_dask, 2),
            "serial_ms_per_trial": round(1000 * t_serial / n, 2), "dask_ms_per_trial": round(1000 * t_dask / n, 2),
            "overhead_ms_per_trial": round(1000 * (t_dask - t_serial) / n, 2),
            "identical": fingerprint(serial.trials) == fingerprint(dask.trials)}


def bench_kill(args: argparse.Namespace, raw: dict[str, Any], data: dict[str, np.ndarray]) -> dict[str, Any]:
    out: dict[str, Any] = {"kill_after_s": args.kill_after}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (X, y) in {"train": (data["X_train"], data["y_train"]), "val": (data["X_val"], data["y_val"])}.items():
            save_npz(tmp / "prepared" / f"{name}.npz", {"images": X, "labels": y})
        (tmp / "params.yaml").write_text(yaml.safe_dump({"search": raw}, sort_keys=False))
        for label, store in (("without store (before)", ""), ("with store (after)", str(tmp / "store"))):
            cmd = [sys.executable, str(ROOT / "stages/search.py"), "--params", str(tmp / "params.yaml"),
                   "--data", str(tmp / "prepared"), "--model", str(tmp / "out/best.npz"),
                   "--results", str(tmp / "out/results.csv"), "--metrics", str(tmp / "out/search.json"),
                   "--timing", str(tmp / "out/timing.json"), "--store", store]
            say(args, f"kill: {label}: kill -9 after {args.kill_after} s, then rerun ...")
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(args.kill_after)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(1.0)  # the workers follow their parent
            start, cpu0 = time.perf_counter(), children_cpu()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            timing = json.loads((tmp / "out/timing.json").read_text())
            out[label] = {"rerun_s": round(seconds, 2), "rerun_cpu_s": round(children_cpu() - cpu0, 1),
                          "epochs_rerun": timing["epochs_run"], "epochs_planned": timing["epochs_planned"],
                          "trials_from_store": timing["from_store"],
                          "output_sha": {f: hashlib.sha256((tmp / "out" / f).read_bytes()).hexdigest()[:12]
                                         for f in ("best.npz", "results.csv", "search.json")}}
            say(args, f"kill: {label}: rerun {seconds:.1f} s")
            if args.keep_outputs:
                shutil.copytree(tmp / "out", Path(args.keep_outputs) / ("before" if not store else "after"),
                                dirs_exist_ok=True)
            shutil.rmtree(tmp / "out")
    b, a = out["without store (before)"], out["with store (after)"]
    out["identical_outputs"] = a["output_sha"] == b["output_sha"]
    out["differing"] = sorted(f for f in a["output_sha"] if a["output_sha"][f] != b["output_sha"][f])
    out["rerun_ratio"] = round(a["rerun_s"] / b["rerun_s"], 3)
    return out


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"Settings: {s['trials']} trials, {s['num_epochs']} epochs, {s['train_size']} training images; "
             f"taken {result['taken']} on {result['cores']} cores (load average at start {result['load']}).", ""]
    if "executors" in result:
        e = result["executors"]
        lines += ["| executor | workers | wall s | speed-up | parallel efficiency | worker CPU s | load at start |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['executor']} | {r['workers']} | {r['seconds']} | {r['speedup']} | {r['efficiency']} | "
                  f"{r['worker_cpu_s']} | {r['load']} |" for r in e["rows"]]
        lines += ["", f"Byte-identical trials on every executor: {'yes' if e['identical'] else 'NO'}; "
                      f"best {e['best']}.", ""]
    if "halving" in result:
        h = result["halving"]
        lines += ["| strategy | epochs trained | wall s | best trial | best val acc |", "|---|---|---|---|---|"]
        lines += [f"| {r['strategy']} (rungs {r['rungs']}) | {r['epochs']} | {r['seconds']} | {r['best_trial']} "
                  f"{r['best']} | {r['best_val_acc']} |" for r in h["rows"]]
        lines += ["", f"Halving / grid: {h['epoch_ratio']} of the epochs, {h['time_ratio']} of the wall time, "
                      f"{h['val_acc_gap_points']} points of val acc behind; the winner's parameters are identical to "
                      f"the grid's trial of the same point: {h['winner_params_identical']}.", ""]
    if "overhead" in result:
        o = result["overhead"]
        lines += [f"Dask overhead: {o['trials']} tiny trials: {o['serial_ms_per_trial']} ms/trial in process, "
                  f"{o['dask_ms_per_trial']} ms/trial on a 1-worker LocalCluster: {o['overhead_ms_per_trial']} ms "
                  f"per trial (identical results: {o['identical']}).", ""]
    if "kill" in result:
        k = result["kill"]
        b, a = k["without store (before)"], k["with store (after)"]
        lines += ["| kill -9 after %s s, then rerun | epochs rerun | rerun wall s | rerun CPU s | trials from store |"
                  % k["kill_after_s"], "|---|---|---|---|---|"]
        lines += [f"| {name} | {r['epochs_rerun']} of {r['epochs_planned']} | {r['rerun_s']} | {r['rerun_cpu_s']} | "
                  f"{r['trials_from_store']} |" for name, r in (("before (no store)", b), ("after (store)", a))]
        lines += ["", f"Identical outputs: {k['identical_outputs']} {k['differing'] or ''}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    params, data, raw = load(args)
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/bench_search.py", *(argv if argv is not None else sys.argv[1:])]),
        "taken": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cores": os.cpu_count(),
        "load": round(os.getloadavg()[0], 1),
        "settings": {"trials": len(params.trials()), "num_epochs": params.base.num_epochs,
                     "train_size": int(data["X_train"].shape[0])}}
    if "executors" in args.sections:
        result["executors"] = bench_executors(args, params, data)
    if "halving" in args.sections:
        result["halving"] = bench_halving(args, params, data)
    if "overhead" in args.sections:
        result["overhead"] = bench_overhead(args)
    if "kill" in args.sections:
        result["kill"] = bench_kill(args, raw, data)
    print(json.dumps(result, indent=2) if args.json else markdown(result))


if __name__ == "__main__":
    main()
