"""End to end: a team shares results through a DVC remote, a local folder and a real S3 server.

Clone A runs the pipeline and one experiment, then pushes outputs and run-cache; clone B (a fresh
`git clone`, no DVC cache) pulls, finds nothing to reproduce, and gets A's experiment from the shared
run-cache without training. The S3 remote is a moto server on 127.0.0.1 reached through dvc-s3.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from support import Repo, ran_stages, restored_stages

BUCKET = "team-dvc-cache"


@pytest.fixture
def origin(pipeline_repo: Repo) -> tuple[Repo, bytes]:
    """Clone A: this test's copy of the pipeline run and committed (conftest), one experiment
    (train.reg=0.01) run, workspace back at HEAD; with the experiment's metrics/train.json."""
    repo = pipeline_repo
    exp = repo.dvc("exp", "run", "-S", "train.reg=0.01")
    assert ran_stages(exp.stdout) == {"train", "evaluate", "plot"}
    exp_metrics = repo.read("metrics/train.json")
    repo.git("reset", "-q", "--hard")
    repo.dvc("checkout")
    assert repo.dvc("status", "--json").stdout.strip() == "{}"
    return repo, exp_metrics


def share(a: Repo, b_path: Path, remote: list[list[str]], restore: list[list[str]], exp_metrics: bytes) -> dict:
    """A configures `remote` (`dvc remote ...` commands), commits it, pushes its outputs and its
    run-cache; B clones, pulls, reproduces nothing, then runs the `restore` commands (the last one
    reproduces A's experiment) and must get every stage from the shared run-cache. Returns the
    seconds each step took."""
    seconds = {}

    def timed(name: str, repo: Repo, *args: str):
        start = time.perf_counter()
        out = repo.run(*args)
        seconds[name] = round(time.perf_counter() - start, 2)
        return out

    for command in remote:
        a.dvc("remote", *command)
    a.git("commit", "-q", "-am", "team remote")
    timed("A: dvc push", a, sys.executable, "-m", "dvc", "push")
    pushed = timed("A: runcache push", a, sys.executable, "-m", "pipeline.tools.runcache", "push")
    assert "run-cache entries pushed" in pushed.stdout

    b = a.clone(b_path)
    timed("B: dvc pull", b, sys.executable, "-m", "dvc", "pull")
    for path in ("models/model.npz", "models/best.npz", "data/prepared/train.npz", "data/raw_source.json"):
        assert b.read(path) == a.read(path), path
    nothing = timed("B: dvc repro", b, sys.executable, "-m", "dvc", "repro")
    assert ran_stages(nothing.stdout) == set()
    assert b.dvc("status", "--json").stdout.strip() == "{}"

    for command in restore:
        out = timed(f"B: dvc {' '.join(command)}", b, sys.executable, "-m", "dvc", *command)
    assert ran_stages(out.stdout) == set(), out.stdout
    assert restored_stages(out.stdout) == {"train", "evaluate", "plot"}, out.stdout
    assert b.read("metrics/train.json") == exp_metrics
    print(f"\n{remote[0][-1]}: " + "; ".join(f"{k} {v} s" for k, v in seconds.items()))
    return seconds


def test_local_folder_remote_shares_outputs_and_run_cache(origin, tmp_path):
    a, exp_metrics = origin
    remote = tmp_path / "shared-remote"
    share(a, tmp_path / "b", [["add", "-f", "-d", "team", str(remote)]],
          [["exp", "run", "--pull", "-S", "train.reg=0.01"]], exp_metrics)
    assert (remote / "runs").is_dir()

    # The models are DVC artifacts: once a version is registered (a GTO tag), `dvc artifacts get`
    # fetches it from the repository's remote, from outside any DVC project.
    a.git("tag", "-a", "mnist-twolayer-best@v0.1.0", "-m", "Registering artifact mnist-twolayer-best version v0.1.0")
    out = tmp_path / "downloaded.npz"
    Repo(tmp_path, a.env).run(sys.executable, "-m", "dvc", "artifacts", "get", str(a.path), "mnist-twolayer-best",
                              "-o", str(out))
    assert out.read_bytes() == a.read("models/best.npz")


@pytest.fixture
def s3_endpoint(tmp_path) -> str:
    """A moto S3 server on 127.0.0.1 (free port) with an empty bucket; fake credentials in the env."""
    from moto.server import ThreadedMotoServer
    import boto3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def s3_env(home: Path) -> dict[str, str]:
    """Fake credentials, no user AWS config, no proxy for 127.0.0.1."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def test_s3_remote_on_a_local_server_shares_outputs_and_run_cache(origin, tmp_path, s3_endpoint):
    a, exp_metrics = origin
    a = a.with_env(**s3_env(tmp_path))
    share(a, tmp_path / "b", [["add", "-f", "-d", "team", f"s3://{BUCKET}/mnist"],
                              ["modify", "team", "endpointurl", s3_endpoint]],
          [["exp", "run", "--pull", "-S", "train.reg=0.01"]], exp_metrics)

    import boto3
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert any(k.startswith("mnist/runs/") for k in keys) and any(k.startswith("mnist/files/md5/") for k in keys)
