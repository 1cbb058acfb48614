"""The stage scripts: --help, an end-to-end split on tiny data, and one-line errors (no tracebacks)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "stages" / script), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script, option", [("download.py", "--record"), ("split.py", "--stats")])
def test_help(script: str, option: str) -> None:
    proc = _run(script, "--help")
    assert proc.returncode == 0
    assert "--params" in proc.stdout and option in proc.stdout


def test_split_stage_end_to_end(tmp_path, packaged_raw) -> None:
    raw, _, _ = packaged_raw
    params = tmp_path / "params.yaml"
    params.write_text("split: {val_size: 10, seed: 0, train_size: 100}\n")
    out, stats = tmp_path / "prepared", tmp_path / "metrics" / "split.json"
    proc = _run("split.py", "--params", str(params), "--raw", str(raw), "--out", str(out),
                "--stats", str(stats), cwd=tmp_path)  # runs from elsewhere: pipeline is installed (make install)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["test.npz", "train.npz", "val.npz"]
    assert json.loads(stats.read_text())["train"]["total"] == 100


def test_split_stage_refuses_files_that_are_not_the_official_ones(tmp_path, tiny_raw_dir) -> None:
    (tmp_path / "params.yaml").write_text("split: {val_size: 10}\n")
    out = tmp_path / "prepared"
    proc = _run("split.py", "--raw", str(tiny_raw_dir), "--out", str(out), "--stats", str(tmp_path / "s.json"),
                cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"split: error: {tiny_raw_dir / 'train-images-idx3-ubyte'}: altered or damaged")
    assert "rerun the download stage (dvc repro -f download)" in proc.stderr
    assert not out.exists()


def test_download_stage_folder_source(tmp_path, tiny_raw_dir) -> None:
    # Tiny files cannot match the official SHA-256s: a clean one-message failure, nothing written.
    params = tmp_path / "params.yaml"
    params.write_text(f"download: {{source: {tiny_raw_dir}}}\n")
    out = tmp_path / "out"
    proc = _run("download.py", "--params", str(params), "--out", str(out), "--record", str(tmp_path / "r.json"))
    assert proc.returncode == 1
    assert "\ndownload: error: no MNIST source worked (download.source = " in proc.stderr
    assert "SHA-256" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "script, text, expected",
    [
        ("split.py", "split: {val_size: -1}\n", "split: error: params.yaml:split.val_size = -1"),
        ("download.py", "download: {timeout: fast}\n", "download: error: params.yaml:download.timeout = 'fast'"),
    ],
)
def test_bad_params_give_one_line(tmp_path, script: str, text: str, expected: str) -> None:
    (tmp_path / "params.yaml").write_text(text)
    proc = _run(script, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith(expected) and proc.stderr.count("\n") == 1
