"""The reproduction check's verdicts and table (the clone-and-rerun path is in test_pipeline_e2e)."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from pipeline.tools.check_repro import Tolerances, compare, compare_metric, format_table


def test_identical_values_are_identical():
    assert compare_metric("m.json:best_val_acc", 0.97, 0.97).verdict == "identical"


def test_accuracy_within_and_outside_tolerance():
    assert compare_metric("m.json:test_acc", 0.9700, 0.9725).verdict == "within"
    assert compare_metric("m.json:test_acc", 0.9700, 0.9740).verdict == "DIFFERS"
    assert compare_metric("m.json:best.per_class_acc.3", 0.95, 0.90).failed
    assert compare_metric("m.json:best.per_class_acc.3", 0.950, 0.945).verdict == "within"
    assert compare_metric("m.json:best.test_acc", 0.950, 0.945).verdict == "DIFFERS"
    assert compare_metric("m.json:test_acc", 0.97, 0.98, Tolerances(acc=0.02)).verdict == "within"


def test_loss_is_relative_and_counts_are_exact():
    assert compare_metric("m.json:final_loss", 0.100, 0.104).verdict == "within"
    assert compare_metric("m.json:final_loss", 0.100, 0.120).verdict == "DIFFERS"
    assert compare_metric("m.json:epochs", 10, 11).verdict == "DIFFERS"
    assert compare_metric("m.json:best_epoch", 9, 10).verdict == "info"
    assert compare_metric("m.json:best_params.reg", 0.01, 0.001).verdict == "info"


def _write(root, lock_md5, acc):
    (root / "metrics").mkdir(parents=True)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": {
        "cmd": "x", "outs": ["models/model.npz"], "metrics": [{"metrics/train.json": {"cache": False}}]}}}))
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train": {
        "outs": [{"path": "models/model.npz", "md5": lock_md5}]}}}))
    (root / "metrics/train.json").write_text(json.dumps({"best_val_acc": acc, "epochs": 10}))


def test_compare_reports_hashes_and_metrics(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    _write(old, "aaaa", 0.970)
    _write(new, "bbbb", 0.971)
    rows, identical = compare(old, new, ["train"])
    assert not identical
    verdicts = {r.what: r.verdict for r in rows}
    assert verdicts == {"train: models/model.npz (md5)": "differs",
                        "metrics/train.json:best_val_acc": "within", "metrics/train.json:epochs": "identical"}
    table = format_table(rows)
    assert table.splitlines()[0].split() == ["what", "committed", "reproduced", "verdict"]
    assert "0.971" in table


def _write_evaluate(root, acc3, test_acc=0.97):
    (root / "metrics").mkdir(parents=True)
    (root / "plots/evaluate").mkdir(parents=True)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"evaluate": {
        "cmd": "x", "metrics": [{"metrics/evaluate.json": {"cache": False}}],
        "plots": [{"plots/evaluate/per_class_acc.csv": {"cache": False}},
                  {"plots/evaluate/confusion_best.csv": {"cache": False}}]}}}))
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"evaluate": {"outs": []}}}))
    (root / "metrics/evaluate.json").write_text(json.dumps({"best": {"test_acc": test_acc}}))
    (root / "plots/evaluate/per_class_acc.csv").write_text(f"class,model,best\n0,0.9,0.95\n3,0.8,{acc3}\n")
    (root / "plots/evaluate/confusion_best.csv").write_text("actual,predicted\n0,1\n")


def test_compare_checks_the_per_class_accuracy_plot_with_the_class_tolerance(tmp_path):
    old, new, far = tmp_path / "old", tmp_path / "new", tmp_path / "far"
    _write_evaluate(old, 0.950)
    _write_evaluate(new, 0.945)
    _write_evaluate(far, 0.900)
    rows, _ = compare(old, new, ["evaluate"])
    verdicts = {r.what: r.verdict for r in rows}
    assert verdicts == {"metrics/evaluate.json:best.test_acc": "identical",
                        "plots/evaluate/per_class_acc.csv:model.0": "identical",
                        "plots/evaluate/per_class_acc.csv:best.0": "identical",
                        "plots/evaluate/per_class_acc.csv:model.3": "identical",
                        "plots/evaluate/per_class_acc.csv:best.3": "within"}  # the confusion CSV is not compared
    rows, _ = compare(old, far, ["evaluate"])
    assert [r.what for r in rows if r.failed] == ["plots/evaluate/per_class_acc.csv:best.3"]


def test_the_default_repository_is_the_project_root():
    from pipeline.tools import check_repro

    root = Path(__file__).resolve().parents[2]
    assert check_repro.ROOT == root and (check_repro.ROOT / "dvc.yaml").is_file()
