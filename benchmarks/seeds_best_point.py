"""Test accuracy of the grid's best point over several training seeds: is "beats the assignment" more than one seed?

Trains params.yaml:search.base with lr 1e-3, 256 hidden units, reg 0.01 (the grid's best point; 20 epochs)
once per seed (the seed of the weight init and of the minibatch order; the validation split stays the
prepared one), keeps each run's best-validation parameters as the search does, and evaluates them on the
test split. Each seed runs in its own process with one BLAS thread, as a search trial does, so seed 0
reproduces the search stage's numbers. Prints one line per seed, then the mean and the sample standard
deviation. Needs data/prepared (`make repro` or `dvc repro split`).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from pipeline.data.split import load_prepared
from pipeline.evaluate import evaluate
from pipeline.common.params import read_params
from pipeline.search.executors import THREAD_VARS
from pipeline.training import TrainParams, load_solver_data, train

BEST_POINT = {"lr": 1e-3, "hidden_dim": 256, "reg": 0.01}


def run_seed(config: TrainParams, data_dir: str) -> tuple[int, float, int, float, float]:
    """Train `config` on the prepared split; (seed, best val acc, best epoch, test acc, seconds)."""
    result = train(config, load_solver_data(data_dir), verbose=False, progress=False)
    X_test, y_test = load_prepared(Path(data_dir) / "test.npz")
    acc = evaluate(result.model, X_test, y_test).accuracy
    return config.seed, result.solver.best_val_acc, result.solver.best_epoch, acc, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    parser.add_argument("--workers", type=int, default=3, help="processes (one BLAS thread each)")
    parser.add_argument("--params", default="params.yaml", help="parameters file (its search.base section)")
    parser.add_argument("--data", default="data/prepared", help="folder with train.npz, val.npz, test.npz")
    args = parser.parse_args()

    where = f"{Path(args.params).name}:search.base"
    base = TrainParams.from_dict(read_params(args.params).get("search", {}).get("base"), where)
    configs = [base.with_overrides({**BEST_POINT, "seed": seed}, where) for seed in args.seeds]
    os.environ.update({k: "1" for k in THREAD_VARS})  # read by numpy in each spawned worker
    tests = {}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(1, args.workers), mp_context=ctx) as pool:
        futures = [pool.submit(run_seed, c, args.data) for c in configs]
        for future in tqdm(as_completed(futures), total=len(futures), desc="seeds", unit="run"):
            seed, val, epoch, acc, seconds = future.result()
            tests[seed] = acc
            tqdm.write(f"seed {seed}: best val acc {val:.4f} (epoch {epoch}), test acc {acc:.4f} ({seconds:.1f} s)")
    accs = [tests[s] for s in args.seeds]
    spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f"test acc over seeds {args.seeds}: mean {100 * statistics.mean(accs):.2f} %, "
          f"std {100 * spread:.2f} points, min {100 * min(accs):.2f} %, max {100 * max(accs):.2f} %")


if __name__ == "__main__":
    main()
