"""stages/search.py: kill -9 in the middle, rerun, and get the uninterrupted run's bytes having redone little."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.nn.npz import save_npz
from support import block_images

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("best.npz", "results.csv", "search.json")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for name, n in (("train", 3000), ("val", 300)):
        X, y = block_images(n, rng, num_classes=10, dim=784)
        save_npz(tmp_path / "prepared" / f"{name}.npz", {"images": X, "labels": y.astype(np.uint8)})
    search = {"workers": 2, "grid": {"hidden_dim": [32, 48, 64], "reg": [0.0, 0.01]},
              "base": {"num_epochs": 10, "batch_size": 50, "lr": 0.02, "input_scaling": "unit"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"search": search}))
    return tmp_path


def _command(d: Path, out: str, store: str | None) -> list[str]:
    return [sys.executable, str(ROOT / "stages/search.py"), "--params", str(d / "params.yaml"),
            "--data", str(d / "prepared"), "--model", str(d / out / "best.npz"),
            "--results", str(d / out / "results.csv"), "--metrics", str(d / out / "search.json"),
            "--timing", str(d / out / "timing.json"), *(["--store", store] if store is not None else [])]


def _outputs(d: Path, out: str) -> dict[str, bytes]:
    return {name: (d / out / name).read_bytes() for name in OUTPUTS}


def test_killed_search_reruns_only_what_was_in_flight(workdir: Path):
    reference = subprocess.run(_command(workdir, "fresh", ""), capture_output=True, text=True, cwd=workdir)
    assert reference.returncode == 0, reference.stderr
    assert "search: [6/6] trial" in reference.stderr  # one line per finished trial without a terminal

    store = workdir / "store"
    first = subprocess.Popen(_command(workdir, "resumed", str(store)), cwd=workdir,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ([p for p in store.glob("*.npz") if ".ckpt" not in p.name] and list(store.glob("*.ckpt.npz"))):
        assert time.monotonic() < deadline and first.poll() is None, "no finished trial and checkpoint to resume"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    rerun = subprocess.run(_command(workdir, "resumed", str(store)), capture_output=True, text=True, cwd=workdir)
    assert rerun.returncode == 0, rerun.stderr
    timing = json.loads((workdir / "resumed/timing.json").read_text())
    # Killed mid-search: some trials were finished, the others continued from their checkpoints.
    assert 1 <= timing["from_store"] < 6
    assert timing["epochs_run"] < (6 - timing["from_store"]) * 10
    assert _outputs(workdir, "resumed") == _outputs(workdir, "fresh")
    assert not list(store.glob("*.ckpt.npz"))  # finished trials drop their checkpoints


def test_halving_metrics_say_strategy_and_epochs(workdir: Path):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["search"].update(strategy="halving", halving={"min_epochs": 2, "eta": 3}, executor="serial")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    run = subprocess.run(_command(workdir, "halving", str(workdir / "store")), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((workdir / "halving/search.json").read_text())
    # 6 candidates: rung 1 trains all to 2 epochs, rung 2 the best 2 to 6, the last the best one to 10.
    assert metrics["strategy"] == "halving" and metrics["epochs_trained"] == 6 * 2 + 2 * 4 + 1 * 4
    assert "rung 1/3 done at 2 epochs; 2 trial(s) go on" in run.stderr
    rows = (workdir / "halving/results.csv").read_text().splitlines()
    assert sum(",pruned," in r for r in rows) == 5 and sum(",ok," in r for r in rows) == 1


def test_store_folder_comes_from_params_and_false_turns_it_off(workdir: Path):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["search"].update(grid={"hidden_dim": [32, 48]}, base={**params["search"]["base"], "num_epochs": 2},
                            executor="serial", store="trials")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    first = subprocess.run(_command(workdir, "a", None), capture_output=True, text=True, cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert f"trial store {workdir / 'trials'}" in first.stdout
    assert len([p for p in (workdir / "trials").glob("*.npz") if ".ckpt" not in p.name]) == 2
    assert not (workdir / ".search_store").exists()
    params["search"]["store"] = False
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    off = subprocess.run(_command(workdir, "b", None), capture_output=True, text=True, cwd=workdir)
    assert off.returncode == 0, off.stderr
    assert "trial store off" in off.stdout and not (workdir / ".search_store").exists()
    assert _outputs(workdir, "a") == _outputs(workdir, "b")
    bad = params["search"] | {"store": 7}
    (workdir / "params.yaml").write_text(yaml.safe_dump({"search": bad}))
    refused = subprocess.run(_command(workdir, "c", None), capture_output=True, text=True, cwd=workdir)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "params.yaml:search.store = 7 is not allowed" in refused.stderr
