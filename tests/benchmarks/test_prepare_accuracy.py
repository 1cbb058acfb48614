"""benchmarks/prepare_accuracy.py: prints the three accuracies, the first one the model's own test accuracy."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pipeline.data import official
from pipeline.data.idx import read_idx
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.npz import save_npz
from pipeline.persistence import save_model

ROOT = Path(__file__).resolve().parents[2]


def test_prints_a_row_per_input_kind(tmp_path, packaged_raw):
    images = read_idx(packaged_raw[0] / official.TEST_IMAGES)[:60].reshape(60, 784)
    labels = read_idx(packaged_raw[0] / official.TEST_LABELS)[:60]
    save_npz(tmp_path / "test.npz", {"images": images, "labels": labels})
    model = TwoLayerNet(784, 16, 10, weight_scale=1e-3, seed=0)
    save_model(tmp_path / "m.npz", model)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "prepare_accuracy.py"), "--model",
                           str(tmp_path / "m.npz"), "--test", str(tmp_path / "test.npz"), "--count", "60",
                           "--page", "100"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"^\| (.+) \| ([\d.]+) % \|$", proc.stdout, re.M)
    assert [name for name, _ in rows] == ["MNIST's own 28x28 digits", "100x100 page resized to 28x28",
                                          "100x100 page prepared as MNIST's were"]
    assert float(rows[0][1]) == round(100 * model.accuracy(images, labels), 2)
    assert "on the first 60 test digits (seed 0)" in proc.stdout
