"""Stage search: train the candidates of params.yaml:search (grid, random or halving); save the best model."""
from __future__ import annotations

from pathlib import Path

from pipeline.common.cli import run_stage, stage_parser
from pipeline.common.fileio import write_csv, write_json
from pipeline.common.params import load_section
from pipeline.common.plan import check_search_plan
from pipeline.common.publish import publish
from pipeline.search.outcome import best_model, results_table, search_metrics
from pipeline.search.progress import SearchProgress
from pipeline.search.runner import make_executor, plan, planned_epochs, rung_sizes, run_search
from pipeline.search.settings import SearchParams
from pipeline.search.store import TrialStore
from pipeline.training import load_solver_data, save_trained


def main(args) -> None:
    params = load_section(SearchParams, "search", args.params)
    data = load_solver_data(args.data)
    configs = params.trials()
    check_search_plan(params, data["X_train"].shape, f"{Path(args.params).name}:search")
    folder = params.store_folder(args.store)
    store = TrialStore(folder) if folder else None
    with make_executor(params, data, len(configs)) as executor:
        print(f"search: {params.strategy}, {len(configs)} candidates, rungs at {plan(params, configs)} epochs; "
              f"{executor.name} executor with {executor.workers} worker(s), 1 BLAS thread each; "
              f"trial store {store.root if store else 'off'}", flush=True)
        progress = SearchProgress(sum(rung_sizes(params, configs)), planned_epochs(params, configs))
        try:
            result = run_search(params, data, executor=executor, store=store, progress=progress)
        finally:
            progress.close()
    model, best_config, best = best_model(result, configs, data)
    with publish([args.model, args.results, args.metrics], "search") as out:
        save_trained(out[args.model], model, best_config, data, best.best_val_acc)
        write_csv(out[args.results], *results_table(result))
        write_json(out[args.metrics], search_metrics(params, result))
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
