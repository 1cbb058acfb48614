"""Stage plot: render the figures (training curves, weights, confusion, mistakes, search) as PNGs."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.cli import run_stage, stage_parser  # noqa: E402
from pipeline.figures import PlotParams, make_figures  # noqa: E402
from pipeline.params import load_section  # noqa: E402
from pipeline.plot_augment import plot_model_augmentation  # noqa: E402


def main(args) -> None:
    params = load_section(PlotParams, "plot", args.params)
    paths = make_figures(args.out, args.train_plots, args.best, args.confusion, args.test, args.search, params)
    augmentation = plot_model_augmentation(args.model, args.test, Path(args.out) / "augmentation.png")
    paths += [augmentation] if augmentation else []
    print(f"plot: {len(paths)} figures in {args.out}")


if __name__ == "__main__":
    parser = stage_parser("Render the pipeline's figures as PNG files.")
    parser.add_argument("--out", default="plots/figures", help="folder for the PNG files")
    parser.add_argument("--train-plots", default="plots/train", help="train stage's epochs.csv and iterations.csv")
    parser.add_argument("--best", default="models/best.npz", help="best model (for the weight tiles)")
    parser.add_argument("--model", default="models/model.npz",
                        help="train stage's model (its augmentation settings; figure only when augmentation was on)")
    parser.add_argument("--confusion", default="plots/evaluate/confusion_best.csv", help="best model's test predictions")
    parser.add_argument("--test", default="data/prepared/test.npz", help="test split (for the misclassified digits)")
    parser.add_argument("--search", default="reports/search_results.csv", help="search results table")
    run_stage(main, parser)
