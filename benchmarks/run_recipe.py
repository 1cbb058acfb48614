#!/usr/bin/env python
"""Measure a training recipe: train it for several seeds, report test accuracy, wall and CPU time.

A recipe is a YAML file recipes/NAME.yaml whose `train:` mapping overrides params.yaml:train. Each
seed trains through pipeline.training.train (as the train stage does) on the prepared split and is
evaluated on the test split with pipeline.evaluate. Times: wall seconds of training (accuracy checks
included) and the process CPU time / 2 (this machine's 2 cores), which is less inflated than wall
time when other work shares the machine.

  python benchmarks/run_recipe.py --recipe plain --seeds 0 1 2
  python benchmarks/run_recipe.py --recipe augmented --seeds 0 --save reports/recipe_augmented.json
  python benchmarks/run_recipe.py --recipe plain --print-command     # python -m pipeline.tools.recipe plain
  python benchmarks/run_recipe.py --recipe augmented --figure docs/augmentation.png  # its distortions, no training
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from pipeline.data.split import load_prepared
from pipeline.evaluate import evaluate
from pipeline.common.params import ParamsError, read_params
from pipeline.plotting.augmentation import example_digits, plot_augmentation
from pipeline.tools.recipe import dvc_command, load_recipe, recipe_path, shipped_recipes
from pipeline.training import TrainParams, load_solver_data, train

ROOT = Path(__file__).resolve().parent.parent


def recipe_config(name: str, params_file: str | os.PathLike, seed: int | None = None) -> TrainParams:
    """params.yaml:train with the recipe's overrides (and `seed`), validated."""
    base = read_params(params_file).get("train")
    config = TrainParams.from_dict(base, f"{Path(params_file).name}:train")
    overrides = dict(load_recipe(name, ROOT))
    if seed is not None:
        overrides["seed"] = seed
    return config.with_overrides(overrides, f"{recipe_path(name, ROOT).name}:train")


def run_seed(config: TrainParams, data: dict, test: tuple, progress: bool) -> dict[str, Any]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train(config, data, verbose=progress, progress=progress)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    ev = evaluate(result.model, *test)
    m = result.metrics()
    kept_epoch = m["best_epoch"] if config.keep == "best" else m["epochs"]
    return {"seed": config.seed, "test_acc": ev.accuracy, "best_val_acc": m["best_val_acc"],
            "best_epoch": m["best_epoch"], "keep": config.keep, "kept_epoch": kept_epoch,
            "kept_val_acc": result.kept_val_acc, "epochs": m["epochs"], "train_wall_s": round(wall, 2),
            "train_cpu_s_per_core": round(cpu / (os.cpu_count() or 1), 2)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    accs = [r["test_acc"] for r in rows]
    return {"test_acc_mean": statistics.fmean(accs), "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "test_acc_min": min(accs), "test_acc_max": max(accs),
            "train_wall_s_mean": statistics.fmean(r["train_wall_s"] for r in rows),
            "train_cpu_s_per_core_mean": statistics.fmean(r["train_cpu_s_per_core"] for r in rows)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--recipe", required=True,
                   help=f"a name in recipes/ ({', '.join(shipped_recipes(ROOT))}) or a YAML path")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)")
    p.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file whose train section is the base")
    p.add_argument("--data", default=str(ROOT / "data" / "prepared"), help="prepared split (train/val/test.npz)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="further train overrides after the recipe's (YAML values), e.g. num_epochs=2")
    p.add_argument("--train-size", type=int, default=None, help="use only the first N training images (quick runs)")
    p.add_argument("--save", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--progress", action="store_true", help="show the Solver's progress bar")
    p.add_argument("--print-command", action="store_true", help="print the equivalent `dvc exp run` line and exit")
    p.add_argument("--figure", metavar="PNG", help="write the recipe's augmentation figure (test digits) and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.print_command:
            print(shlex.join(dvc_command(args.recipe, ROOT)))
            return 0
        if args.figure:
            config = recipe_config(args.recipe, args.params)
            images, labels = load_prepared(Path(args.data) / "test.npz")
            plot_augmentation(example_digits(images, labels), config.augment_config(), args.figure,
                              title=f"Recipe {Path(args.recipe).stem}: originals (left), distorted versions (right)")
            print(f"wrote {args.figure}")
            return 0
        extra = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise ParamsError(f"--set {item!r}: expected KEY=VALUE")
            extra[key] = yaml.safe_load(value)
        prepared = Path(args.data)
        for f in ("train.npz", "val.npz", "test.npz"):
            if not (prepared / f).exists():
                raise ParamsError(f"--data {prepared}: {prepared / f} does not exist (run `dvc repro split` first)")
        data = load_solver_data(prepared)
        if args.train_size:
            data["X_train"], data["y_train"] = data["X_train"][:args.train_size], data["y_train"][:args.train_size]
        test = load_prepared(prepared / "test.npz")
        rows = []
        for seed in args.seeds:
            config = recipe_config(args.recipe, args.params, seed)
            if extra:
                config = config.with_overrides(extra, "--set")
            row = run_seed(config, data, test, args.progress)
            rows.append(row)
            print(f"{args.recipe} seed {seed}: test {100 * row['test_acc']:.2f} %, val {100 * row['kept_val_acc']:.2f} % "
                  f"(epoch {row['kept_epoch']}, keep {row['keep']}; best val {100 * row['best_val_acc']:.2f} % at "
                  f"epoch {row['best_epoch']}), train {row['train_wall_s']:.1f} s wall, "
                  f"{row['train_cpu_s_per_core']:.1f} s CPU/core", flush=True)
    except (ParamsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = summarise(rows)
    result = {"recipe": args.recipe, "command": "python benchmarks/run_recipe.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "dvc_command": shlex.join(dvc_command(args.recipe, ROOT)),
              "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_"))},
              "config": {k: v for k, v in vars(config).items() if k != "seed"},
              "seeds": rows, "summary": summary}
    print(f"{args.recipe}: test {100 * summary['test_acc_mean']:.2f} +- {100 * summary['test_acc_std']:.2f} % "
          f"over seeds {args.seeds} (min {100 * summary['test_acc_min']:.2f}, max {100 * summary['test_acc_max']:.2f}); "
          f"train {summary['train_wall_s_mean']:.1f} s wall, {summary['train_cpu_s_per_core_mean']:.1f} s CPU/core (means)")
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
