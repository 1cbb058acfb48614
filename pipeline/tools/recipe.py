"""The training recipes of recipes/ and the `dvc exp run` line that trains exactly one of them.

    python -m pipeline.tools.recipe plain                  # prints: dvc exp run -n plain -S train.hidden_dim=800 ...
    eval "$(.venv/bin/python -m pipeline.tools.recipe plain)"   # runs it (with .venv/bin first on PATH)

A recipe is a YAML file recipes/NAME.yaml holding one mapping `train:` of params.yaml:train overrides.
The printed command sets every `train` key: the recipe's value, else the value params.yaml holds at
HEAD. A workspace `dvc exp run -S` starts from the params.yaml the previous run left, so setting only
the recipe's keys would keep whatever an earlier experiment set; setting all of them trains the same
recipe whatever ran before.
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline.common.params import PARAMS_FILE, ParamsError, parse_params
from pipeline.errors import PipelineError
from pipeline.training import TrainParams

RECIPES = "recipes"
ROOT = Path(__file__).resolve().parents[2]  # the project, whose recipes --help lists


class RecipeError(PipelineError, ValueError):
    """An unknown recipe, a recipe file of the wrong shape, or no params.yaml at the base revision."""


def shipped_recipes(repo: str | Path = ".") -> list[str]:
    """The names of the recipes in recipes/ of `repo`, sorted."""
    return sorted(p.stem for p in (Path(repo) / RECIPES).glob("*.yaml"))


def recipe_path(name: str, repo: str | Path = ".") -> Path:
    """recipes/NAME.yaml of `repo` for a bare name, else the given path."""
    p = Path(name)
    return p if p.suffix in (".yaml", ".yml") else Path(repo) / RECIPES / f"{name}.yaml"


def load_recipe(name: str, repo: str | Path = ".") -> dict[str, Any]:
    """The recipe's train overrides, checked to be a mapping of known training keys."""
    path = recipe_path(name, repo)
    if not path.is_file():
        known = shipped_recipes(repo)
        raise RecipeError(f"{path}: no such recipe; known recipes: {', '.join(known) or 'none'}")
    data = parse_params(path.read_text(encoding="utf-8"), path)
    if set(data) != {"train"} or not isinstance(data["train"], dict):
        raise RecipeError(f"{path}: expected one mapping `train:` of params.yaml:train overrides")
    known = {f.name for f in dataclasses.fields(TrainParams)}
    if unknown := sorted(set(data["train"]) - known):
        raise RecipeError(f"{path}: train.{unknown[0]} is no training key; known: {', '.join(sorted(known))}")
    return data["train"]


def base_train(repo: str | Path = ".", rev: str = "HEAD") -> dict[str, Any]:
    """params.yaml:train as committed at `rev` of the git repository `repo`."""
    where = f"{rev}:{PARAMS_FILE}"
    proc = subprocess.run(["git", "show", where], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["git failed"])[-1]
        raise RecipeError(f"{Path(repo).resolve()}: cannot read {where} ({reason}); "
                          "recipes start from a committed params.yaml")
    data = parse_params(proc.stdout, where)
    if not isinstance(data.get("train"), dict):
        raise RecipeError(f"{where}: no `train:` section to start the recipe from")
    return data["train"]


def recipe_train(name: str, repo: str | Path = ".", rev: str = "HEAD") -> dict[str, Any]:
    """Every params.yaml:train key of `rev`, with the recipe's values; validated like params.yaml."""
    settings = {**base_train(repo, rev), **load_recipe(name, repo)}
    TrainParams.from_dict(settings, f"{recipe_path(name, repo).name} over {rev}:{PARAMS_FILE}:train")
    return settings


def hydra_value(value: Any) -> str:
    """`value` as DVC's `-S key=value` (Hydra override grammar) reads it back: the same YAML type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def dvc_command(name: str, repo: str | Path = ".", rev: str = "HEAD") -> list[str]:
    """`dvc exp run -n NAME -S train.KEY=VALUE ...` for every train key: the recipe whatever ran before."""
    sets = [a for k, v in recipe_train(name, repo, rev).items() for a in ("-S", f"train.{k}={hydra_value(v)}")]
    return ["dvc", "exp", "run", "-n", Path(name).stem, *sets]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.recipe", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("recipe", help=f"a name in recipes/ ({', '.join(shipped_recipes(ROOT))}) or a YAML path")
    parser.add_argument("--repo", default=".", help="the project's git repository")
    parser.add_argument("--rev", default="HEAD", help="the revision whose params.yaml:train gives the other keys")
    args = parser.parse_args(argv)
    try:
        print(shlex.join(dvc_command(args.recipe, args.repo, args.rev)))
    except (PipelineError, ParamsError) as exc:
        print(f"recipe: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
