"""Fault injection, full disk: every stage run under a file-size limit (RLIMIT_FSIZE at 0 bytes and at
half its largest output, as a full disk would stop it) ends with one line naming the output it could
not write, and leaves its outputs all old (or, when the limit allowed everything, all new), with no
temporary files behind."""
from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.nn.npz import save_npz

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("download", "split", "train", "search", "export", "evaluate", "plot")


def outputs_of(stage: str) -> list[str]:
    """The files each stage writes in the workspace built below (relative paths)."""
    from pipeline.data import official
    from pipeline.plotting.figures import FIGURES

    return {
        "download": [f"data/raw/{n}" for n in official.NAMES] + ["data/raw_source.json"],
        "split": ["data/prepared/train.npz", "data/prepared/val.npz", "data/prepared/test.npz", "metrics/split.json"],
        "train": ["models/model.npz", "metrics/train.json", "plots/train/epochs.csv", "plots/train/iterations.csv"],
        "search": ["models/best.npz", "reports/search_results.csv", "metrics/search.json"],
        "export": ["models/best.onnx"],
        "evaluate": ["plots/evaluate/confusion_model.csv", "plots/evaluate/confusion_best.csv",
                     "metrics/evaluate.json", "reports/model_card.md"],
        "plot": [f"plots/figures/{name}.png" for name in FIGURES],
    }[stage]


# Two settings per stage that give different outputs ("old" and "new"); download's old state is "absent".
PARAMS = {
    "old": "download: {{source: {raw}}}\nsplit: {{train_size: 300, seed: 0}}\n"
           "train: {{num_epochs: 1, hidden_dim: 8, seed: 0}}\n"
           "search: {{grid: {{hidden_dim: [6, 8]}}, base: {{num_epochs: 1, seed: 0}}, workers: 1}}\n"
           "export: {{tolerance: 1.0e-05, opset: 17}}\nevaluate: {{batch_size: 1000}}\nplot: {{max_misclassified: 36}}\n",
    "new": "download: {{source: {raw}}}\nsplit: {{train_size: 300, seed: 1}}\n"
           "train: {{num_epochs: 1, hidden_dim: 8, seed: 1}}\n"
           "search: {{grid: {{hidden_dim: [6, 8]}}, base: {{num_epochs: 1, seed: 1}}, workers: 1}}\n"
           "export: {{tolerance: 1.0e-05, opset: 17}}\nevaluate: {{batch_size: 1000}}\nplot: {{max_misclassified: 4}}\n",
}


# export and evaluate have no setting that changes their outputs: their "new" runs read the new models instead.
NEW_INPUTS = {"export": ("search",), "evaluate": ("train", "search")}


def run(workspace: Path, stage: str, fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    env.pop("PIPELINE_TRACEBACK", None)
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{stage}.py")], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


def snapshot(workspace: Path, stage: str) -> dict[str, bytes | None]:
    return {rel: (workspace / rel).read_bytes() if (workspace / rel).exists() else None for rel in outputs_of(stage)}


def restore(workspace: Path, snap: dict[str, bytes | None]) -> None:
    for rel, data in snap.items():
        path = workspace / rel
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def digest(snap: dict[str, bytes | None]) -> dict[str, str | None]:
    return {k: None if v is None else hashlib.sha256(v).hexdigest()[:12] for k, v in snap.items()}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, packaged_raw):
    """A project folder where every stage has run with the "old" settings; {stage: (old, new) snapshots}."""
    ws = tmp_path_factory.mktemp("disk")
    raw_source = ws / "mnist-files"
    shutil.copytree(packaged_raw[0], raw_source)
    states: dict[str, tuple[dict, dict]] = {}
    for stage in STAGES:
        (ws / "params.yaml").write_text(PARAMS["old"].format(raw=raw_source))
        if stage == "download":  # old: absent
            old = snapshot(ws, stage)
        else:
            proc = run(ws, stage)
            assert proc.returncode == 0, proc.stderr
            old = snapshot(ws, stage)
        (ws / "params.yaml").write_text(PARAMS["new"].format(raw=raw_source))
        for upstream in NEW_INPUTS.get(stage, ()):
            restore(ws, states[upstream][1])
        proc = run(ws, stage)
        assert proc.returncode == 0, proc.stderr
        new = snapshot(ws, stage)
        for upstream in NEW_INPUTS.get(stage, ()):
            restore(ws, states[upstream][0])
        assert stage == "download" or digest(old) != digest(new)
        # later stages' "old" runs read the old outputs
        (ws / "params.yaml").write_text(PARAMS["old"].format(raw=raw_source))
        restore(ws, old if stage != "download" else new)
        states[stage] = (old, new)
    yield ws, raw_source, states


def limits(new: dict[str, bytes | None]) -> list[int]:
    """Nothing can be written; the largest output cannot (the smaller ones can)."""
    largest = max(len(v) for v in new.values() if v is not None)
    return [0, largest // 2]


CASES = [(stage, i) for stage in STAGES for i in range(2)]


@pytest.mark.parametrize("stage, which", CASES, ids=[f"{s}-limit{i}" for s, i in CASES])
def test_full_disk_leaves_outputs_all_old_and_names_the_file(workspace, stage, which):
    ws, raw_source, states = workspace
    old, new = states[stage]
    fsize = limits(new)[which]
    restore(ws, old)
    (ws / "params.yaml").write_text(PARAMS["new"].format(raw=raw_source))
    for upstream in NEW_INPUTS.get(stage, ()):
        restore(ws, states[upstream][1])
    try:
        proc = run(ws, stage, fsize)
        after = snapshot(ws, stage)
    finally:
        (ws / "params.yaml").write_text(PARAMS["old"].format(raw=raw_source))
        restore(ws, old if stage != "download" else new)
        for upstream in NEW_INPUTS.get(stage, ()):
            restore(ws, states[upstream][0])
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith(f"{stage}: error: ")]
    assert len(errors) == 1, proc.stderr
    named = errors[0].removeprefix(f"{stage}: error: ").split(": cannot write (File too large)")[0]
    # the output that could not be written; or, failing before any output (search's worker pool needs a
    # semaphore file), what happened
    assert named in {str(ws / rel) for rel in outputs_of(stage)} or (
        "cannot write a temporary file (File too large)" in errors[0] and stage == "search"), errors[0]
    assert digest(after) == digest(old)  # all old
    leftovers = [p for p in (ws / ".pipeline-tmp").rglob("*") if p.is_file()]
    assert leftovers == []
    stray = [p for rel in outputs_of(stage) for p in (ws / rel).parent.glob(".*.tmp")]
    assert stray == []


def test_enough_room_publishes_all_new(workspace):
    ws, raw_source, states = workspace
    old, new = states["train"]
    restore(ws, old)
    (ws / "params.yaml").write_text(PARAMS["new"].format(raw=raw_source))
    try:
        proc = run(ws, "train", 1 << 30)
        after = snapshot(ws, "train")
    finally:
        (ws / "params.yaml").write_text(PARAMS["old"].format(raw=raw_source))
        restore(ws, old)
    assert proc.returncode == 0, proc.stderr
    assert digest(after) == digest(new)
