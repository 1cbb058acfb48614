"""Stage search: train every grid point of params.yaml:search in parallel; save the best model."""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from pipeline.cli import run_stage, stage_parser
from pipeline.fileio import write_csv, write_json
from pipeline.params import read_params
from pipeline.plan import check_search_plan
from pipeline.publish import publish
from pipeline.search import SearchParams, best_trial, resolve_workers, run_search
from pipeline.training import build_model, load_solver_data, save_trained


def main(args) -> None:
    params = SearchParams.from_dict(read_params(args.params).get("search"), f"{Path(args.params).name}:search")
    data = load_solver_data(args.data)
    configs = params.trials()
    check_search_plan(params, data["X_train"].shape, f"{Path(args.params).name}:search")
    workers = resolve_workers(params.workers, len(configs))
    print(f"search: {len(configs)} trials over {', '.join(params.grid)} with {workers} worker(s), 1 BLAS thread each")
    bar = tqdm(total=len(configs), desc="search", unit="trial", disable=not sys.stderr.isatty())

    def report(trial) -> None:
        bar.update(1)
        acc = "diverged" if trial.best_val_acc is None else f"best val acc {trial.best_val_acc:.4f}"
        bar.write(f"search: trial {trial.index} {trial.overrides}: {acc} ({trial.seconds:.1f} s)")

    trials = run_search(params, data, on_trial=report)
    bar.close()
    best = best_trial(trials)
    best_config = configs[best.index]
    model = build_model(best_config, data["X_train"])
    for k, v in best.params.items():
        model.params[k][...] = v
    rows = [t.row() for t in trials]
    header = list(rows[0])
    with publish([args.model, args.results, args.metrics], "search") as out:
        save_trained(out[args.model], model, best_config, data, best.best_val_acc)
        write_csv(out[args.results], header, [[r[h] for h in header] for r in rows])
        write_json(out[args.metrics], {
            "best_val_acc": best.best_val_acc,
            "best_trial": best.index,
            "best_params": best.overrides,
            "best_epoch": best.best_epoch,
            "trials": len(trials),
            "diverged": sum(t.status == "diverged" for t in trials),
        })
    write_json(args.timing, {"trial_seconds": {str(t.index): round(t.seconds, 3) for t in trials},
                             "total_trial_seconds": round(sum(t.seconds for t in trials), 3), "workers": workers})
    print(f"search: best {best.overrides} with val acc {best.best_val_acc:.4f}; model in {args.model}")


if __name__ == "__main__":
    parser = stage_parser("Grid search over params.yaml:search.grid, in parallel worker processes.")
    parser.add_argument("--data", default="data/prepared", help="folder with train.npz and val.npz")
    parser.add_argument("--model", default="models/best.npz", help="where to save the best model")
    parser.add_argument("--results", default="reports/search_results.csv", help="one row per trial")
    parser.add_argument("--metrics", default="metrics/search.json", help="best params and val acc")
    parser.add_argument("--timing", default="logs/search_timing.json",
                        help="per-trial seconds (kept out of the DVC outputs so they stay byte-identical)")
    run_stage(main, parser)
