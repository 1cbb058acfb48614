"""Stage evaluate: load both saved models from disk and measure them on the test set; write the best one's card."""
from __future__ import annotations

from pathlib import Path

from pipeline.common.cli import run_stage, stage_parser
from pipeline.data.split import load_prepared
from pipeline.evaluate import EvaluateParams, confusion_rows, evaluate, per_class_rows
from pipeline.common.fileio import write_csv, write_json, write_text
from pipeline.common.params import load_section
from pipeline.persistence import load_model
from pipeline.common.publish import publish
from pipeline.use.card import model_card


def main(args) -> None:
    params = load_section(EvaluateParams, "evaluate", args.params)
    images, labels = load_prepared(args.test)
    results, metas = {}, {}
    for name, path in (("model", args.model), ("best", args.best)):
        model, metas[name] = load_model(path)
        result = results[name] = evaluate(model, images, labels, params.batch_size)
        print(f"evaluate: {path}: test accuracy {result.accuracy:.4f} ({result.summary()['errors']} errors)")
    plots = Path(args.plots)
    confusion = {name: plots / f"confusion_{name}.csv" for name in results}
    per_class = plots / "per_class_acc.csv"
    with publish([*confusion.values(), per_class, args.metrics, args.card], "evaluate") as out:
        for name, result in results.items():
            write_csv(out[confusion[name]], ["actual", "predicted"], confusion_rows(result))
        write_csv(out[per_class], *per_class_rows(results))
        write_json(out[args.metrics], {name: result.summary() for name, result in results.items()})
        write_text(out[args.card], model_card(args.best, metas["best"], results["best"], args.test))


if __name__ == "__main__":
    parser = stage_parser("Test both saved models (train's and the search's best) on the test split.")
    parser.add_argument("--test", default="data/prepared/test.npz", help="test split")
    parser.add_argument("--model", default="models/model.npz", help="the train stage's model")
    parser.add_argument("--best", default="models/best.npz", help="the search stage's best model")
    parser.add_argument("--metrics", default="metrics/evaluate.json", help="metrics JSON")
    parser.add_argument("--card", default="reports/model_card.md", help="model card of the best model")
    parser.add_argument("--plots", default="plots/evaluate",
                        help="folder for confusion_{model,best}.csv and per_class_acc.csv")
    run_stage(main, parser, script=__file__)
