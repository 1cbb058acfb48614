"""DVC experiments on a throwaway copy of the project (small settings): each queued run imports the
`pipeline/` of its own queued commit, whatever the workspace holds when the queue runs; a recipe's
printed command trains the same whatever ran before; a sweep queues every combination."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from support import Repo

TRAINING = "pipeline/training.py"
# Appended to pipeline/training.py: train() then exits with a marker, or prints one and trains as before.
FAILING_TRAIN = '\n\ndef train(*args, **kwargs):\n    raise SystemExit("EDITED-WORKSPACE-CODE")\n'
MARKED_TRAIN = ('\n\n_unmarked_train = train\n\n\ndef train(*args, **kwargs):\n'
                '    print("QUEUED-CODE-MARKER", flush=True)\n    return _unmarked_train(*args, **kwargs)\n')


def run_queue(repo: Repo, jobs: int, timeout: float = 600) -> str:
    """`dvc queue start -j jobs`, then wait until no task is queued or running; the last `dvc queue status`."""
    repo.dvc("queue", "start", "-j", str(jobs))
    deadline = time.monotonic() + timeout
    while True:
        status = repo.dvc("queue", "status").stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            return status
        assert time.monotonic() < deadline, f"queue still busy after {timeout} s:\n{status}"
        time.sleep(2)


def experiments(repo: Repo) -> dict[str, dict[str, Any]]:
    """{experiment name: {"rev", "params" (params.yaml), "metrics" ({file: data})}} from `dvc exp show --json`."""
    found = {}
    for baseline in json.loads(repo.dvc("exp", "show", "--json").stdout):
        for exp in baseline.get("experiments") or []:
            for rev in exp["revs"]:
                data = rev.get("data") or {}
                found[rev["name"]] = {"rev": rev["rev"], "params": data["params"]["params.yaml"]["data"],
                                      "metrics": {f: m["data"] for f, m in (data.get("metrics") or {}).items()}}
    return found


def lock_md5(repo: Repo, rev: str, stage: str, path: str) -> str:
    """The md5 dvc.lock at `rev` records for `path` (a dep or out of `stage`)."""
    import yaml

    lock = yaml.safe_load(repo.git("show", f"{rev}:dvc.lock").stdout)["stages"][stage]
    return next(e["md5"] for e in lock.get("deps", []) + lock.get("outs", []) if e["path"] == path)


def queued_name(repo: Repo) -> str:
    names = re.findall(r"^\w+\s+(\S+)\s+.*\bQueued\b", repo.dvc("queue", "status").stdout, re.M)
    assert len(names) == 1, names
    return names[0]


def test_a_queued_run_imports_its_own_code_not_the_edited_workspace(tmp_path):
    repo = Repo.create(tmp_path)
    repo.dvc("exp", "run", "--queue", "-S", "train.reg=0.01")
    name = queued_name(repo)
    with open(repo.path / TRAINING, "a") as f:
        f.write(FAILING_TRAIN)  # made after queueing: the queued commit does not hold it
    status = run_queue(repo, jobs=1)
    logs = repo.dvc("queue", "logs", name).stdout
    assert re.search(rf"\b{name}\b.*\bSuccess\b", status), status
    assert "Running stage 'train'" in logs and "EDITED-WORKSPACE-CODE" not in logs
    rev = experiments(repo)[name]["rev"]

    # The same experiment, run anew (no run-cache) in the workspace with the unedited code: the same bytes.
    repo.git("checkout", "--", TRAINING)
    repo.set_params({"train": {"reg": 0.01}})
    repro = repo.dvc("repro", "--no-run-cache", "train")
    assert "Running stage 'train'" in repro.stdout
    assert hashlib.md5(repo.read("models/model.npz")).hexdigest() == lock_md5(repo, rev, "train", "models/model.npz")
    assert repo.read("metrics/train.json") == repo.git("show", f"{rev}:metrics/train.json").stdout.encode()


def test_a_queued_run_imports_its_queued_code_not_the_workspaces(tmp_path):
    repo = Repo.create(tmp_path)
    with open(repo.path / TRAINING, "a") as f:
        f.write(MARKED_TRAIN)
    marked = (repo.path / TRAINING).read_bytes()
    repo.dvc("exp", "run", "--queue", "-S", "train.reg=0.01")
    name = queued_name(repo)
    repo.git("checkout", "--", TRAINING)  # the workspace back at HEAD, without the marker
    status = run_queue(repo, jobs=1)
    logs = repo.dvc("queue", "logs", name).stdout
    assert re.search(rf"\b{name}\b.*\bSuccess\b", status), status
    assert "QUEUED-CODE-MARKER" in logs
    # DVC recorded the code that ran: the marked training.py, in the experiment's commit and its dvc.lock.
    rev = experiments(repo)[name]["rev"]
    assert repo.git("show", f"{rev}:{TRAINING}").stdout.encode() == marked
    assert lock_md5(repo, rev, "train", TRAINING) == hashlib.md5(marked).hexdigest()
    assert "QUEUED-CODE-MARKER" not in (repo.path / TRAINING).read_text()


# ---- recipes: the printed command trains exactly the recipe, whatever ran before ----

def small_recipes(repo: Repo) -> dict[str, dict[str, Any]]:
    """Shrink the copy's recipes to small settings (their other keys kept) and commit; {name: train overrides}."""
    import yaml

    recipes = {}
    for name in ("plain", "augmented"):
        path = repo.path / "recipes" / f"{name}.yaml"
        train = {**yaml.safe_load(path.read_text())["train"], "hidden_dim": 16, "num_epochs": 2}
        path.write_text(yaml.safe_dump({"train": train}, sort_keys=False))
        recipes[name] = train
    repo.git("commit", "-q", "-am", "small recipes")
    return recipes


def run_recipe(repo: Repo, name: str) -> str:
    """Run the line `python -m pipeline.tools.recipe NAME` prints, as printed; its output."""
    line = repo.run(sys.executable, "-m", "pipeline.tools.recipe", name).stdout
    assert line.startswith(f"dvc exp run -n {name} -S train.")
    return repo.run(*shlex.split(line)).stdout


def test_recipe_commands_train_exactly_the_recipe_whatever_ran_before(tmp_path):
    import yaml

    repo = Repo.create(tmp_path)
    recipes = small_recipes(repo)
    head = yaml.safe_load(repo.read("params.yaml"))["train"]
    # Another experiment first: it leaves keys of neither recipe changed in the workspace's params.yaml.
    repo.dvc("exp", "run", "-n", "other", "-S", "train.augment_shift=2", "-S", "train.patience=3",
             "-S", "train.weight_scale=0.01", "-S", "train.label_smoothing=0.2")
    for name in ("plain", "augmented"):
        run_recipe(repo, name)
        assert experiments(repo)[name]["params"]["train"] == {**head, **recipes[name]}, name
    first = experiments(repo)["plain"]
    repo.dvc("exp", "remove", "plain")
    again = run_recipe(repo, "plain")  # after augmented: the same params, so the same run, restored
    assert "Stage 'train' is cached - skipping run" in again
    assert experiments(repo)["plain"]["params"] == first["params"]
    assert experiments(repo)["plain"]["metrics"] == first["metrics"]


# ---- sweeps: DVC's comma syntax queues every combination ----

def test_a_two_by_two_sweep_queues_and_runs_four_experiments(tmp_path):
    repo = Repo.create(tmp_path)
    repo.dvc("exp", "run", "--queue", "-S", "train.reg=0.1,0.01", "-S", "train.hidden_dim=16,24")
    assert len(re.findall(r"\bQueued\b", repo.dvc("queue", "status").stdout)) == 4
    status = run_queue(repo, jobs=2)
    assert len(re.findall(r"\bSuccess\b", status)) == 4 and "Failed" not in status, status
    exps = experiments(repo)
    assert sorted((e["params"]["train"]["reg"], e["params"]["train"]["hidden_dim"]) for e in exps.values()) == \
        [(0.01, 16), (0.01, 24), (0.1, 16), (0.1, 24)]
    assert len({json.dumps(e["metrics"]["metrics/train.json"], sort_keys=True) for e in exps.values()}) == 4
    # The README's comparison: only what differs, best test accuracy first.
    table = repo.dvc("exp", "show", "--only-changed", "--csv", "--sort-by", "metrics/evaluate.json:model.test_acc",
                     "--sort-order", "desc").stdout
    rows = [r for r in csv.DictReader(io.StringIO(table)) if r["Experiment"] in exps]
    accs = [float(r["model.test_acc"]) for r in rows]
    assert len(rows) == 4 and accs == sorted(accs, reverse=True)
    assert accs == sorted((e["metrics"]["metrics/evaluate.json"]["model"]["test_acc"] for e in exps.values()),
                          reverse=True)
