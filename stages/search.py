"""Stage search: train the candidates of params.yaml:search (grid, random or halving); save the best model."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.cli import run_stage, stage_parser  # noqa: E402
from pipeline.fileio import write_csv, write_json  # noqa: E402
from pipeline.params import read_params  # noqa: E402
from pipeline.search import (DEFAULT_DIR, SearchParams, SearchProgress, TrialStore, best_trial,  # noqa: E402
                             make_executor, plan, planned_epochs, run_search)
from pipeline.search.strategies import keep_count  # noqa: E402
from pipeline.training import build_model, load_solver_data, save_trained  # noqa: E402


def main(args) -> None:
    params = SearchParams.from_dict(read_params(args.params).get("search"), f"{Path(args.params).name}:search")
    data = load_solver_data(args.data)
    configs = params.trials()
    rungs = plan(params, configs)
    sizes = [len(configs)]
    for _ in rungs[1:]:
        sizes.append(keep_count(sizes[-1], params.halving.eta))
    store = TrialStore(args.store) if args.store else None
    with make_executor(params, data, len(configs)) as executor:
        print(f"search: {params.strategy}, {len(configs)} candidates, rungs at {rungs} epochs; "
              f"{executor.name} executor with {executor.workers} worker(s), 1 BLAS thread each; "
              f"trial store {store.root if store else 'off'}", flush=True)
        progress = SearchProgress(sum(sizes), planned_epochs(params, configs))
        try:
            result = run_search(params, data, executor=executor, store=store, progress=progress)
        finally:
            progress.close()
    trials = result.trials
    best = best_trial(trials)
    best_config = configs[best.index]
    model = build_model(best_config, data["X_train"])
    for k, v in best.params.items():
        model.params[k][...] = v
    save_trained(args.model, model, best_config, data, best.best_val_acc)
    rows = [t.row() for t in trials]
    header = list(rows[0])
    write_csv(args.results, header, [[r[h] for h in header] for r in rows])
    metrics = {
        "best_val_acc": best.best_val_acc,
        "best_trial": best.index,
        "best_params": best.overrides,
        "best_epoch": best.best_epoch,
        "trials": len(trials),
        "diverged": sum(t.status == "diverged" for t in trials),
    }
    if params.strategy != "grid":  # the grid's metrics keep the keys (and bytes) they always had
        metrics.update(strategy=params.strategy, epochs_trained=result.epochs_trained)
    write_json(args.metrics, metrics)
    if args.timing:
        write_json(args.timing, {"trial_seconds": {str(i): round(s, 3) for i, s in sorted(result.seconds.items())},
                                 "total_trial_seconds": round(sum(result.seconds.values()), 3),
                                 "from_store": result.from_store, "epochs_run": result.epochs_run,
                                 "epochs_planned": result.epochs_trained, "executor": params.executor,
                                 "workers": executor.workers})
    print(f"search: best {best.overrides} with val acc {best.best_val_acc:.4f} after {result.epochs_trained} epochs "
          f"({result.from_store} trial(s) from the store); model in {args.model}")


if __name__ == "__main__":
    parser = stage_parser("Hyperparameter search over params.yaml:search (grid, random or successive halving), "
                          "on local worker processes or a Dask cluster; resumes from its trial store.")
    parser.add_argument("--data", default="data/prepared", help="folder with train.npz and val.npz")
    parser.add_argument("--model", default="models/best.npz", help="where to save the best model")
    parser.add_argument("--results", default="reports/search_results.csv", help="one row per trial")
    parser.add_argument("--metrics", default="metrics/search.json", help="best params and val acc")
    parser.add_argument("--timing", default="logs/search_timing.json",
                        help="per-trial seconds, kept out of the DVC outputs so they stay byte-identical ('' = none)")
    parser.add_argument("--store", default=DEFAULT_DIR,
                        help="trial store: finished trials and checkpoints, reused by a rerun ('' = none); "
                             "clear it with rm -rf")
    run_stage(main, parser)
