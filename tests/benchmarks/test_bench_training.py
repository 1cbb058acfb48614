"""benchmarks/bench_training.py runs end to end on a tiny setting and reports well-formed JSON.

Structure and positivity only: timings on a shared machine are not asserted.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_training.py"
TINY = ["--hidden", "25", "--epochs", "1", "--train-size", "2000", "--repeats", "1", "--rss-train-size", "2000", "--settle", "0"]


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


@pytest.fixture(scope="module")
def tiny_result() -> dict:
    proc = _run(*TINY, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_help():
    proc = _run("--help", timeout=60)
    assert proc.returncode == 0
    for option in ("--json", "--hidden", "--epochs", "--train-size", "--repeats", "--data"):
        assert option in proc.stdout


def test_json_top_level(tiny_result):
    for key in ("command", "machine", "settings", "torch", "training", "evaluation", "peak_rss"):
        assert key in tiny_result
    s = tiny_result["settings"]
    assert s["train_size"] == 2000 and s["batch_size"] == 200 and s["iterations_per_epoch"] == 10
    assert tiny_result["machine"]["cpu_count"] >= 1
    assert isinstance(tiny_result["torch"]["available"], bool) and tiny_result["torch"]["note"]


def test_training_rows(tiny_result):
    rows = tiny_result["training"]
    assert [(r["hidden"], r["dtype"]) for r in rows] == [(25, "float32"), (25, "float64")]
    torch_available = tiny_result["torch"]["available"]
    for r in rows:
        for key in ("ours_s", "floor_s", "ours_over_floor"):
            assert _positive(r[key]), (key, r[key])
        assert len(r["samples"]["ours"]) == len(r["samples"]["floor"]) == 1
        if torch_available:
            assert _positive(r["torch_s"]) and _positive(r["torch_over_ours"]) and _positive(r["torch_floor_s"])
            assert len(r["samples"]["torch_floor"]) == 1
        else:
            assert r["torch_s"] is None and r["torch_over_ours"] is None and r["torch_floor_s"] is None


def test_evaluation_rows(tiny_result):
    rows = tiny_result["evaluation"]
    assert len(rows) == 2
    for r in rows:
        assert r["rows"] == 2000
        for key in ("predict_s", "floor_s", "predict_over_floor"):
            assert _positive(r[key]), (key, r[key])


def test_peak_rss_rows(tiny_result):
    rows = tiny_result["peak_rss"]
    assert len(rows) == 2
    for r in rows:
        assert r["train_size"] == 2000
        for key in ("import_rss_mb", "data_rss_mb", "peak_rss_mb", "ru_maxrss_mb", "train_seconds"):
            assert _positive(r[key]), (key, r[key])
        assert r["peak_rss_mb"] <= r["ru_maxrss_mb"] + 1e-9  # VmHWM, capped by ru_maxrss


def test_markdown_table_without_torch_notes_its_absence():
    proc = _run("--hidden", "25", "--dtypes", "float32", "--epochs", "1", "--train-size", "1000", "--repeats", "1",
                "--no-torch", "--no-rss", "--no-eval", "--quiet", "--settle", "0")
    assert proc.returncode == 0, proc.stderr
    assert "| 25 | float32 |" in proc.stdout
    assert "disabled with --no-torch" in proc.stdout
    assert "n/a" in proc.stdout


def test_data_option_reads_a_prepared_split(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "train.npz", images=rng.integers(0, 256, (600, 784), dtype=np.uint8),
             labels=rng.integers(0, 10, 600, dtype=np.uint8))
    proc = _run("--data", str(tmp_path), "--hidden", "25", "--dtypes", "float32", "--repeats", "1",
                "--no-torch", "--no-eval", "--rss-train-size", "600", "--json", "--quiet", "--settle", "0")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["settings"]["train_size"] == 600 and "train.npz" in result["settings"]["data"]
    assert result["peak_rss"][0]["train_size"] == 600


def test_missing_data_folder_is_a_clear_error(tmp_path):
    proc = _run("--data", str(tmp_path / "nope"), "--no-rss", "--no-torch", "--repeats", "1", timeout=60)
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr
