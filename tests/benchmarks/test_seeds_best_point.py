"""benchmarks/seeds_best_point.py: trains the grid's best point per seed and reports a consistent mean and spread."""
from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from pipeline.nn.npz import save_npz

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "seeds_best_point.py"


def _tiny_project(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    prepared = tmp_path / "prepared"
    for name, n in (("train", 120), ("val", 40), ("test", 40)):
        save_npz(prepared / f"{name}.npz", {"images": rng.integers(0, 256, (n, 784), dtype=np.uint8),
                                            "labels": (np.arange(n) % 10).astype(np.uint8)})
    base = yaml.safe_load((ROOT / "params.yaml").read_text())["search"]["base"]
    base.update(num_epochs=1, batch_size=40)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"search": {"base": base}}))
    return tmp_path


def _run(project: Path, *seeds: str) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--params", str(project / "params.yaml"),
                           "--data", str(project / "prepared"), "--workers", "2", "--seeds", *seeds],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def test_mean_and_spread_match_the_per_seed_lines_and_seeds_are_deterministic(tmp_path):
    project = _tiny_project(tmp_path)
    out = _run(project, "0", "1", "2")
    accs = {int(s): float(a) for s, a in re.findall(r"seed (\d+): best val acc [\d.]+ \(epoch \d+\), test acc ([\d.]+)",
                                                     out)}
    assert sorted(accs) == [0, 1, 2]
    summary = re.search(r"mean ([\d.]+) %, std ([\d.]+) points, min ([\d.]+) %, max ([\d.]+) %", out)
    assert summary, out
    values = list(accs.values())
    assert float(summary[1]) == round(100 * statistics.mean(values), 2)
    assert abs(float(summary[2]) - 100 * statistics.stdev(values)) < 0.006
    assert float(summary[3]) == round(100 * min(values), 2) and float(summary[4]) == round(100 * max(values), 2)
    again = _run(project, "1")
    assert re.search(r"seed 1: .*test acc ([\d.]+)", again)[1] == f"{accs[1]:.4f}"
