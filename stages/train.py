"""Stage train: train the network of params.yaml:train and save it with its metrics and histories."""
from __future__ import annotations

from pathlib import Path

from pipeline.common.cli import run_stage, stage_parser
from pipeline.common.fileio import write_csv, write_json
from pipeline.common.params import load_section
from pipeline.common.plan import check_plan
from pipeline.common.publish import publish
from pipeline.training import TrainParams, history_rows, load_solver_data, save_trained, train


def main(args) -> None:
    config = load_section(TrainParams, "train", args.params)
    data = load_solver_data(args.data)
    check_plan(config, data["X_train"].shape, f"{Path(args.params).name}:train")
    print(f"train: {data['X_train'].shape[0]} train / {data['X_val'].shape[0]} val images; {config}")
    result = train(config, data)
    solver = result.solver
    epochs_csv, iterations_csv = Path(args.plots) / "epochs.csv", Path(args.plots) / "iterations.csv"
    with publish([args.model, args.metrics, epochs_csv, iterations_csv], "train") as out:
        save_trained(out[args.model], result.model, config, data, result.kept_val_acc)
        write_json(out[args.metrics], result.metrics())
        epochs, iterations = history_rows(solver)
        write_csv(out[epochs_csv], ["epoch", "loss", "train_acc", "val_acc", "lr"], epochs)
        write_csv(out[iterations_csv], ["iteration", "loss"], iterations)
    write_json(args.timing, {"train_seconds": round(result.seconds, 3)})
    print(f"train: best val acc {solver.best_val_acc:.4f} at epoch {solver.best_epoch}; "
          f"{result.seconds:.1f} s; model in {args.model}")


if __name__ == "__main__":
    parser = stage_parser("Train the two-layer network with params.yaml:train; keep the parameters train.keep names.")
    parser.add_argument("--data", default="data/prepared", help="folder with train.npz and val.npz")
    parser.add_argument("--model", default="models/model.npz", help="where to save the model")
    parser.add_argument("--metrics", default="metrics/train.json", help="metrics JSON")
    parser.add_argument("--plots", default="plots/train", help="folder for epochs.csv and iterations.csv")
    parser.add_argument("--timing", default="logs/train_timing.json",
                        help="wall time JSON (git- and DVC-ignored: no output, metric or diff carries wall times)")
    run_stage(main, parser, script=__file__)
