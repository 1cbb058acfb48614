"""Shared test helpers: numerical gradients, small learnable data, small search settings, and
throwaway copies of the repository run with the real DVC (end-to-end tests).

Imported as `support` (pytest.ini puts tests/ on the path); not a test module itself.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np
import yaml

from pipeline.search.settings import SearchParams

ROOT = Path(__file__).resolve().parents[1]


# ---- numerical gradients (CS231n style) ----

def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar function `f` at `x`, one entry at a time.

    `x` is perturbed in place (and restored), so `f` may read it through any alias, e.g. a model's
    parameter dict.
    """
    return eval_numerical_gradient_array(f, x, np.float64(1.0), h)


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of sum(f(x) * df) with respect to `x`, for an array-valued `f` (backprop check)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Maximum elementwise relative error, max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    assert x.shape == y.shape, f"shapes differ: {x.shape} vs {y.shape}"
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


# ---- small learnable data ----

def block_images(n: int, rng: np.random.Generator, num_classes: int = 4, dim: int = 64):
    """uint8 'images' whose class k lights up the k-th block of dim // num_classes pixels, over noise."""
    y = rng.integers(0, num_classes, n)
    X = rng.integers(0, 80, (n, dim))
    width = dim // num_classes
    for k in range(num_classes):
        X[y == k, k * width : (k + 1) * width] += 150
    return X.astype(np.uint8), y


# ---- search settings and results ----

WHERE = "params.yaml:search"


def small_data(seed: int = 0, n: int = 200, n_val: int = 60) -> dict[str, np.ndarray]:
    """A search's data: `n` training and `n_val` validation block images."""
    rng = np.random.default_rng(seed)
    X, y = block_images(n, rng)
    Xv, yv = block_images(n_val, rng)
    return {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}


def search_params(grid: dict, base: dict | None = None, **settings: Any) -> SearchParams:
    """SearchParams over `grid` with short, fast base settings (2 epochs, 8 hidden units, 2 workers)."""
    base = {"num_epochs": 2, "batch_size": 50, "input_scaling": "unit", "lr": 0.5, "hidden_dim": 8, **(base or {})}
    return SearchParams.from_dict({"grid": grid, "base": base, "workers": 2, **settings}, WHERE)


def same_trials(a: list, b: list) -> bool:
    """Rows, histories and best parameters all equal, bit for bit."""
    for x, y in zip(a, b, strict=True):
        if x.row() != y.row() or x.val_acc != y.val_acc or x.train_acc != y.train_acc:
            return False
        if (x.params is None) != (y.params is None):
            return False
        if x.params is not None and any(not np.array_equal(x.params[k], y.params[k]) for k in x.params):
            return False
    return True


# ---- benchmark scripts ----

def benchmark_module(name: str) -> ModuleType:
    """benchmarks/NAME.py imported by its path (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ---- end-to-end: a copy of the repository run with the real DVC ----

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

    def copy(self, tmp: Path) -> "Repo":
        """A byte-for-byte copy of this repository's folder (.git and .dvc/cache included) in tmp/repo,
        run with its own isolated environment in tmp/home."""
        path = tmp / "repo"
        shutil.copytree(self.path, path, symlinks=True)
        return Repo(path, isolated_env(tmp / "home"))

    def clone(self, path: Path, env: dict[str, str] | None = None) -> "Repo":
        """`git clone` of this repository (no DVC cache: a teammate's fresh clone)."""
        self.run("git", "clone", "-q", str(self.path), str(path))
        return Repo(path, env or self.env)

    def with_env(self, **extra: str) -> "Repo":
        """The same repository, run with extra environment variables."""
        return Repo(self.path, {**self.env, **extra})

    def read(self, rel: str) -> bytes:
        return (self.path / rel).read_bytes()
