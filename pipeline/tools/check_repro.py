"""Reproduction check: rerun the pipeline in a fresh clone and compare with what is committed.

    python -m pipeline.tools.check_repro [--ref HEAD] [--stages train ...] [--acc-tolerance 0.003]
    python -m pipeline.tools.check_repro --workspace   # after your own `dvc repro`: compare it with HEAD

Clones `--ref` into a temporary folder, runs `dvc repro` there (the whole pipeline, or only the
named stages and what they need), then compares, stage by stage, the output hashes in the new
dvc.lock with the committed one, and every metric (and every value of the per-class accuracy plot)
with the committed value. Identical hashes
mean a bit-identical reproduction (same arithmetic: same BLAS kernels). Where hashes differ,
the metrics must agree within tolerance: accuracies within `--acc-tolerance` (absolute), per-class
accuracies (about 1,000 images each, so 0.1 point per image) within `--class-acc-tolerance`,
losses within `--loss-tolerance` (relative); anything else is a real difference: exit 1. Which
grid point wins, its epoch and size, and error counts follow from accuracies and are shown only.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]

# Plot CSVs whose values are compared like metrics: {path: the column naming each row}.
COMPARED_PLOTS = {"plots/evaluate/per_class_acc.csv": "class"}


@dataclass
class Row:
    """One compared value: a metric or an output hash."""

    what: str
    committed: Any
    reproduced: Any
    verdict: str  # identical | within | DIFFERS | info

    @property
    def failed(self) -> bool:
        return self.verdict == "DIFFERS"


def _flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k in sorted(obj):
            yield from _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, obj


@dataclass(frozen=True)
class Tolerances:
    """How far a reproduced metric may move when the arithmetic differs."""

    acc: float = 0.003
    class_acc: float = 0.01
    loss: float = 0.05


def compare_metric(name: str, old: Any, new: Any, tol: Tolerances = Tolerances()) -> Row:
    """Verdict for one metric: accuracies by absolute, losses by relative tolerance, counts exactly."""
    if old == new:
        return Row(name, old, new, "identical")
    key = name.split(":", 1)[-1]
    leaf = key.rsplit(".", 1)[-1]
    if leaf in ("best_epoch", "best_trial", "errors", "hidden_dim") or key.startswith("best_params"):
        return Row(name, old, new, "info")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new))
    if numeric and "per_class_acc" in name:
        return Row(name, old, new, "within" if abs(new - old) <= tol.class_acc else "DIFFERS")
    if numeric and "acc" in key:
        return Row(name, old, new, "within" if abs(new - old) <= tol.acc else "DIFFERS")
    if numeric and "loss" in leaf:
        return Row(name, old, new, "within" if abs(new - old) <= tol.loss * abs(old) else "DIFFERS")
    return Row(name, old, new, "DIFFERS")


def _lock_outs(lock: dict, stage: str) -> dict[str, str]:
    return {o["path"]: o.get("md5", "") for o in lock.get("stages", {}).get(stage, {}).get("outs", [])}


def _metric_files(dvc_yaml: dict, stage: str) -> list[str]:
    files = []
    for entry in dvc_yaml["stages"][stage].get("metrics", []):
        files.append(next(iter(entry)) if isinstance(entry, dict) else entry)
    return files


def _plot_files(dvc_yaml: dict, stage: str) -> list[str]:
    """The stage's plot outputs that are compared value by value (COMPARED_PLOTS)."""
    entries = dvc_yaml["stages"][stage].get("plots", [])
    paths = [next(iter(e)) if isinstance(e, dict) else e for e in entries]
    return [p for p in paths if p in COMPARED_PLOTS]


def _plot_values(path: Path, key_column: str) -> dict[str, Any]:
    """{column.row key: number} of a plot CSV; empty cells are None."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    values: dict[str, Any] = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        for column, cell in row.items():
            if column != key_column:
                values[f"{column}.{row[key_column]}"] = float(cell) if cell else None
    return values


def compare(committed_dir: Path, clone: Path, stages: list[str], tol: Tolerances = Tolerances()) -> tuple[list[Row], bool]:
    """Rows for every output hash and metric of `stages`; and whether all hashes were identical."""
    dvc_yaml = yaml.safe_load((clone / "dvc.yaml").read_text())
    old_lock = yaml.safe_load((committed_dir / "dvc.lock").read_text())
    new_lock = yaml.safe_load((clone / "dvc.lock").read_text())
    rows: list[Row] = []
    identical = True
    for stage in stages:
        old, new = _lock_outs(old_lock, stage), _lock_outs(new_lock, stage)
        for path in sorted(set(old) | set(new)):
            same = old.get(path) == new.get(path)
            identical &= same
            rows.append(Row(f"{stage}: {path} (md5)", old.get(path, "-")[:10], new.get(path, "-")[:10],
                            "identical" if same else "differs"))
        for metric_file in _metric_files(dvc_yaml, stage):
            old_m = dict(_flatten(json.loads((committed_dir / metric_file).read_text())))
            new_m = dict(_flatten(json.loads((clone / metric_file).read_text())))
            for key in sorted(set(old_m) | set(new_m)):
                rows.append(compare_metric(f"{metric_file}:{key}", old_m.get(key), new_m.get(key), tol))
        for plot_file in _plot_files(dvc_yaml, stage):
            if not (committed_dir / plot_file).is_file():  # a commit from before the plot existed
                continue
            old_p = _plot_values(committed_dir / plot_file, COMPARED_PLOTS[plot_file])
            new_p = _plot_values(clone / plot_file, COMPARED_PLOTS[plot_file])
            for key in sorted(set(old_p) | set(new_p)):
                rows.append(compare_metric(f"{plot_file}:{key}", old_p.get(key), new_p.get(key), tol))
    return rows, identical


def format_table(rows: list[Row]) -> str:
    """A plain-text table: what, committed, reproduced, verdict."""
    def fmt(v: Any) -> str:
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    cells = [("what", "committed", "reproduced", "verdict")] + [(r.what, fmt(r.committed), fmt(r.reproduced), r.verdict)
                                                                  for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(4)).rstrip() for c in cells)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def save_committed(repo: Path, ref: str, out: Path) -> list[str]:
    """Write `ref`'s dvc.lock, every stage's metrics files and compared plots into `out`; return the stage names."""
    def show(path: str, check: bool = True) -> bytes | None:
        proc = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=repo, check=check, capture_output=True)
        return proc.stdout if proc.returncode == 0 else None

    dvc_yaml = yaml.safe_load(show("dvc.yaml"))
    stages = list(dvc_yaml["stages"])
    for path in ["dvc.lock"] + [f for stage in stages for f in _metric_files(dvc_yaml, stage)]:
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(show(path))
    for path in [f for stage in stages for f in _plot_files(dvc_yaml, stage)]:
        data = show(path, check=False)
        if data is not None:
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_bytes(data)
    return stages


def verdict(rows: list[Row], identical: bool, stages: list[str], strict: bool) -> int:
    """Print the table and the conclusion; return the exit code."""
    print()
    print(format_table(rows))
    failed = [r for r in rows if r.failed]
    print()
    if failed:
        print(f"FAILED: {len(failed)} metric(s) outside tolerance: {', '.join(r.what for r in failed)}")
        return 1
    if identical:
        print(f"bit-identical: every output of {', '.join(stages)} has the committed hash")
        return 0
    if strict:
        print("FAILED (--strict): some output hashes differ from the committed dvc.lock")
        return 1
    print("reproduced within tolerance: hashes differ (other arithmetic: BLAS kernels, CPU), metrics agree")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--ref", default="HEAD", help="commit to reproduce")
    parser.add_argument("--repo", default=str(ROOT), help="repository to clone")
    parser.add_argument("--stages", nargs="*", default=None,
                        help="reproduce only these stages and their upstream; every stage when omitted")
    parser.add_argument("--workspace", action="store_true",
                        help="no clone, no rerun: compare --repo's working tree (after your own dvc repro) "
                             "with --ref's committed dvc.lock and metrics")
    parser.add_argument("--acc-tolerance", type=float, default=Tolerances.acc, help="absolute, for accuracies")
    parser.add_argument("--class-acc-tolerance", type=float, default=Tolerances.class_acc,
                        help="absolute, for per-class accuracies")
    parser.add_argument("--loss-tolerance", type=float, default=Tolerances.loss, help="relative, for losses")
    parser.add_argument("--strict", action="store_true", help="fail unless every output hash is identical")
    parser.add_argument("--keep", action="store_true", help="keep the clone and print where it is")
    args = parser.parse_args(argv)
    tol = Tolerances(args.acc_tolerance, args.class_acc_tolerance, args.loss_tolerance)

    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    tmp = Path(tempfile.mkdtemp(prefix="check-repro-"))
    committed = tmp / "committed"
    try:
        if args.workspace:
            workdir = Path(args.repo)
            stages = save_committed(workdir, args.ref, committed)
        else:
            workdir = tmp / "repo"
            # The clone's own pipeline/, not the one the virtualenv's editable install points to.
            env["PYTHONPATH"] = str(workdir)
            run(["git", "clone", "--quiet", "--no-checkout", args.repo, str(workdir)], tmp, env)
            run(["git", "checkout", "--quiet", args.ref], workdir, env)
            all_stages = save_committed(workdir, "HEAD", committed)
            run([sys.executable, "-m", "dvc", "repro", "--force", *(args.stages or [])], workdir, env)
            stages = all_stages if not args.stages else _upstream(workdir, args.stages, all_stages, env)
        rows, identical = compare(committed, workdir, stages, tol)
    finally:
        if args.keep and not args.workspace:
            print(f"clone kept in {tmp / 'repo'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return verdict(rows, identical, stages, args.strict)


def _upstream(clone: Path, targets: list[str], all_stages: list[str], env: dict[str, str]) -> list[str]:
    """The named stages and every stage they depend on, in pipeline order (from `dvc dag`)."""
    out = subprocess.run([sys.executable, "-m", "dvc", "dag", "--md", *targets], cwd=clone, env=env,
                         check=True, capture_output=True, text=True).stdout
    names = set(re.findall(r'\["([^"]+)"\]', out))
    return [s for s in all_stages if s in names]


if __name__ == "__main__":
    sys.exit(main())
