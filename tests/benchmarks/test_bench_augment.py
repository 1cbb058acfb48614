"""benchmarks/bench_augment.py runs end to end on a tiny setting and reports well-formed results.

Structure and positivity only: timings on a shared machine are not asserted.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_augment.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_json_rows_for_every_setting():
    proc = _run("--train-size", "400", "--hidden", "32", "--repeats", "1", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["settings"]["iterations_per_epoch"] == 2 and result["settings"]["hidden"] == 32
    assert [r["setting"] for r in result["rows"]] == ["shift", "affine", "elastic", "all"]
    for r in result["rows"]:
        assert r["augment_s"] > 0 and r["step_s"] > 0
        assert abs(r["augment_over_step"] - r["augment_s"] / r["step_s"]) < 1e-12
        assert len(r["samples"]) == 1
        assert r["plain_epoch_s"] > 0 and r["sync_epoch_s"] > 0 and r["ahead_epoch_s"] > 0
        assert abs(r["ahead_added"] - (r["ahead_epoch_s"] / r["plain_epoch_s"] - 1)) < 1e-12
        assert abs(r["sync_added"] - (r["sync_epoch_s"] / r["plain_epoch_s"] - 1)) < 1e-12


def test_markdown_table_and_help():
    proc = _run("--train-size", "400", "--hidden", "16", "--repeats", "1", "--settings", "elastic", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "| elastic (elastic_alpha 34, elastic_sigma 4) |" in proc.stdout
    assert "| setting | plain s/epoch | synchronous s/epoch | added | prepared ahead s/epoch | added |" in proc.stdout
    help_text = _run("--help").stdout
    for option in ("--hidden", "--settings", "--repeats", "--data", "--json"):
        assert option in help_text


def test_missing_data_folder_is_a_clear_error(tmp_path):
    proc = _run("--data", str(tmp_path / "nope"), "--repeats", "1")
    assert proc.returncode != 0 and "does not exist" in proc.stderr
