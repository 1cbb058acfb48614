"""Stage search: train the candidates of params.yaml:search (grid, random or halving); save the best model."""
from __future__ import annotations

from pathlib import Path

from pipeline.common.cli import run_stage, stage_parser
from pipeline.common.fileio import write_csv, write_json
from pipeline.common.params import load_section
from pipeline.common.plan import check_search_plan
from pipeline.common.publish import publish
from pipeline.search.progress import SearchProgress
from pipeline.search.runner import make_executor, plan, planned_epochs, run_search
from pipeline.search.settings import SearchParams
from pipeline.search.store import TrialStore
from pipeline.search.trial import best_trial
from pipeline.search.strategies import keep_count
from pipeline.training import build_model, load_solver_data, save_trained


def main(args) -> None:
    params = load_section(SearchParams, "search", args.params)
    data = load_solver_data(args.data)
    configs = params.trials()
    check_search_plan(params, data["X_train"].shape, f"{Path(args.params).name}:search")
    rungs = plan(params, configs)
    sizes = [len(configs)]
    for _ in rungs[1:]:
        sizes.append(keep_count(sizes[-1], params.halving.eta))
    folder = params.store_folder(args.store)
    store = TrialStore(folder) if folder else None
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
    rows = [t.row() for t in trials]
    header = list(rows[0])
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
    with publish([args.model, args.results, args.metrics], "search") as out:
        save_trained(out[args.model], model, best_config, data, best.best_val_acc)
        write_csv(out[args.results], header, [[r[h] for h in header] for r in rows])
        write_json(out[args.metrics], metrics)
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
    parser.add_argument("--store", default=None,
                        help="trial store: finished trials and checkpoints, reused by a rerun ('' = none); "
                             "overrides params.yaml:search.store; clear it with rm -rf")
    run_stage(main, parser, script=__file__)
