"""Helpers for end-to-end tests: a throwaway copy of the repository run with the real DVC."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Small settings: a few hundred training images, 2 epochs, a 2-point grid.
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "split": {"train_size": 300},
    "train": {"num_epochs": 2, "hidden_dim": 16},
    "search": {"grid": {"lr": [0.001], "hidden_dim": [12, 20]}, "base": {"num_epochs": 2}},
}


def isolated_env(home: Path) -> dict[str, str]:
    """Environment with DVC and git cut off from the user's config, analytics and site cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    for name in ("site", "global", "system"):
        (home / name).mkdir(parents=True, exist_ok=True)
    (home / "gitconfig").write_text("")
    env.update({
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / "site"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / "global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / "system"),
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def ran_stages(output: str) -> set[str]:
    """Stages `dvc repro` / `dvc exp run` ran (their command executed)."""
    return set(re.findall(r"Running stage '([a-z]+)'", output))


def restored_stages(output: str) -> set[str]:
    """Stages DVC restored from the run-cache instead of running them."""
    return set(re.findall(r"Stage '([a-z]+)' is cached - skipping run, checking out outputs", output))


def project_files() -> list[str]:
    """The files git would put in a clone (tracked, plus untracked-but-not-ignored while developing)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return [f for f in out.splitlines() if (ROOT / f).is_file()]


def merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and k != "grid" and isinstance(base.get(k), dict) else v
    return out


class Repo:
    """A copy of the project in `path`, a git repository with its first commit, run with `env`."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        # Stages run as `python -m stages.x` and import the pipeline/ of the tree DVC runs them in without
        # help. PYTHONPATH names the copy so that it stands where a user's clone does: the `pipeline` any
        # other import finds. Code escaping its tree (a queued run importing the workspace's pipeline/)
        # then fails the tests here as it would for a user, instead of importing this checkout.
        self.path, self.env = path, {**env, "PYTHONPATH": str(path)}

    @classmethod
    def create(cls, tmp: Path, params: dict[str, dict[str, Any]] = SMALL_PARAMS) -> "Repo":
        path = tmp / "repo"
        for f in project_files():
            (path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, path / f)
        repo = cls(path, isolated_env(tmp / "home"))
        repo.set_params(params)
        repo.git("init", "-q")
        repo.git("add", "-A")
        repo.git("commit", "-q", "-m", "small settings")
        return repo

    def set_params(self, override: dict[str, dict[str, Any]]) -> None:
        p = self.path / "params.yaml"
        p.write_text(yaml.safe_dump(merge(yaml.safe_load(p.read_text()), override), sort_keys=False))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, cwd=self.path, env=self.env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "dvc", *args, check=check)

    def git(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("git", *args)

    def clone(self, path: Path, env: dict[str, str] | None = None) -> "Repo":
        """`git clone` of this repository (no DVC cache: a teammate's fresh clone)."""
        self.run("git", "clone", "-q", str(self.path), str(path))
        return Repo(path, env or self.env)

    def with_env(self, **extra: str) -> "Repo":
        """The same repository, run with extra environment variables."""
        return Repo(self.path, {**self.env, **extra})

    def read(self, rel: str) -> bytes:
        return (self.path / rel).read_bytes()
