"""benchmarks/bench_search.py runs on tiny settings and reports well-formed figures (no timing asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from pipeline.nn.npz import save_npz

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_search.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_help_lists_the_sections():
    proc = _run("--help")
    assert proc.returncode == 0
    for word in ("executors", "halving", "overhead", "kill", "--epochs", "--train-size", "--json"):
        assert word in proc.stdout


def test_tiny_run_reports_identical_results_and_positive_times(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (("train", 400), ("val", 50)):
        save_npz(tmp_path / f"{name}.npz", {"images": rng.integers(0, 256, (n, 784), dtype=np.uint8),
                                           "labels": rng.integers(0, 10, n).astype(np.uint8)})
    params = tmp_path / "params.yaml"
    params.write_text("search:\n  grid: {hidden_dim: [4, 8]}\n  base: {num_epochs: 1, batch_size: 100}\n")
    proc = _run("--params", str(params), "--data", str(tmp_path), "--sections", "halving", "overhead",
                "--tiny-trials", "5", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["settings"] == {"trials": 2, "num_epochs": 1, "train_size": 400}
    assert result["overhead"]["identical"] is True and result["overhead"]["dask_s"] > 0
    assert [r["strategy"] for r in result["halving"]["rows"]] == ["grid", "halving"]
    assert result["halving"]["winner_params_identical"] is True


def test_missing_data_is_a_clear_error(tmp_path):
    proc = _run("--data", str(tmp_path / "nope"))
    assert proc.returncode != 0 and "does not exist; run `dvc repro split`" in proc.stderr
