"""Stage plot: render the figures (training curves, weights, confusion, mistakes, search) as PNGs."""
from __future__ import annotations

from pathlib import Path

from pipeline.common.cli import run_stage, stage_parser
from pipeline.common.params import load_section
from pipeline.common.publish import publish
from pipeline.plotting.figures import FIGURES, PlotParams, make_augmentation_figure, make_figures, model_augmentation


def main(args) -> None:
    params = load_section(PlotParams, "plot", args.params)
    out_dir = Path(args.out)
    outputs = [out_dir / f"{name}.png" for name in FIGURES]
    augmentation = out_dir / "augmentation.png"  # only when the train stage's model trained with augmentation
    augment_config = model_augmentation(args.model)
    if augment_config is not None:
        outputs.append(augmentation)
    with publish(outputs, "plot") as out:
        paths = make_figures(out.folder(args.out), args.train_plots, args.model, args.best, args.confusion, args.test,
                             args.search, params)
        if augment_config is not None:
            paths.append(make_augmentation_figure(augment_config, args.test, out[augmentation]))
    print(f"plot: {len(paths)} figures in {args.out}")


if __name__ == "__main__":
    parser = stage_parser("Render the pipeline's figures as PNG files.")
    parser.add_argument("--out", default="plots/figures", help="folder for the PNG files")
    parser.add_argument("--train-plots", default="plots/train", help="train stage's epochs.csv and iterations.csv")
    parser.add_argument("--model", default="models/model.npz",
                        help="train stage's model (its settings title the curves; its augmentation, if any, is drawn)")
    parser.add_argument("--best", default="models/best.npz", help="best model (weight tiles, titles)")
    parser.add_argument("--confusion", default="plots/evaluate/confusion_best.csv", help="best model's test predictions")
    parser.add_argument("--test", default="data/prepared/test.npz", help="test split (for the misclassified digits)")
    parser.add_argument("--search", default="reports/search_results.csv", help="search results table")
    run_stage(main, parser, script=__file__)
