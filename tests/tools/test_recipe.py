"""pipeline.tools.recipe: the `dvc exp run` line of a recipe sets every train key, from the recipe or HEAD's params.yaml."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from pipeline.common.params import ParamsError
from pipeline.tools.recipe import RecipeError, dvc_command, hydra_value, load_recipe, main, recipe_train, shipped_recipes

ROOT = Path(__file__).resolve().parents[2]


def _git_repo(tmp_path: Path, train: dict, recipe: dict) -> Path:
    repo = tmp_path / "repo"
    (repo / "recipes").mkdir(parents=True)
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": train}, sort_keys=False))
    (repo / "recipes" / "r.yaml").write_text(yaml.safe_dump({"train": recipe}))
    env = {"GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return repo


def test_the_shipped_recipes_are_the_files_of_recipes_and_help_lists_them():
    names = shipped_recipes(ROOT)
    assert names == sorted(p.stem for p in (ROOT / "recipes").glob("*.yaml")) and "plain" in names
    help_text = subprocess.run([sys.executable, "-m", "pipeline.tools.recipe", "--help"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout
    assert f"({', '.join(names)})" in " ".join(help_text.split())


@pytest.mark.parametrize("name", shipped_recipes(ROOT))
def test_shipped_recipes_set_every_train_key_of_head(name):
    head = yaml.safe_load(subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True,
                                         text=True, check=True).stdout)["train"]
    recipe = load_recipe(name, ROOT)
    argv = dvc_command(name, ROOT)
    assert argv[:5] == ["dvc", "exp", "run", "-n", name] and argv[5::2] == ["-S"] * len(head)
    settings = dict(a.split("=", 1) for a in argv[6::2])
    assert list(settings) == [f"train.{k}" for k in head]
    for key, default in head.items():
        assert YAML(typ="safe", pure=True).load(settings[f"train.{key}"]) == recipe.get(key, default), key


def test_keys_come_from_the_committed_params_not_the_workspace(tmp_path):
    repo = _git_repo(tmp_path, {"hidden_dim": 25, "lr": 0.001, "reg": 0.0, "patience": None},
                     {"hidden_dim": 800, "lr": 0.1})
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"hidden_dim": 7, "lr": 0.5, "reg": 0.3,
                                                                "patience": 4}}))
    assert recipe_train("r", repo) == {"hidden_dim": 800, "lr": 0.1, "reg": 0.0, "patience": None}
    assert dvc_command("r", repo)[5:] == ["-S", "train.hidden_dim=800", "-S", "train.lr=0.1", "-S", "train.reg=0.0",
                                          "-S", "train.patience=null"]


@pytest.mark.parametrize("value, text", [(None, "null"), (True, "true"), (1e-08, "1e-08"), (0.0, "0.0"),
                                         (800, "800"), ("he", "he")])
def test_values_read_back_as_the_same_yaml_1_2_value(value, text):
    assert hydra_value(value) == text
    loaded = YAML(typ="safe", pure=True).load(text)
    assert loaded == value and type(loaded) is type(value)


def test_bad_recipes_and_revisions_are_one_line_errors(tmp_path, capsys):
    repo = _git_repo(tmp_path, {"hidden_dim": 25}, {"hidden_dim": 800})
    with pytest.raises(RecipeError, match=r"recipes/nope.yaml: no such recipe; known recipes: r"):
        load_recipe("nope", repo)
    (repo / "recipes" / "flat.yaml").write_text("hidden_dim: 3\n")
    with pytest.raises(RecipeError, match="flat.yaml: expected one mapping `train:`"):
        load_recipe("flat", repo)
    (repo / "recipes" / "typo.yaml").write_text("train:\n  hiden_dim: 3\n")
    with pytest.raises(RecipeError, match="train.hiden_dim is no training key"):
        load_recipe("typo", repo)
    (repo / "recipes" / "neg.yaml").write_text("train:\n  hidden_dim: -3\n")
    with pytest.raises(ParamsError, match=r"neg.yaml over HEAD:params.yaml:train.hidden_dim = -3 is not allowed"):
        recipe_train("neg", repo)
    assert main(["r", "--repo", str(repo), "--rev", "nosuchrev"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("recipe: error: ") and "cannot read nosuchrev:params.yaml" in err and err.count("\n") == 1


def test_the_command_line_prints_a_shell_line(tmp_path):
    repo = _git_repo(tmp_path, {"hidden_dim": 25, "init": "normal"}, {"init": "he"})
    proc = subprocess.run([sys.executable, "-m", "pipeline.tools.recipe", "r", "--repo", str(repo)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert shlex.split(proc.stdout) == ["dvc", "exp", "run", "-n", "r", "-S", "train.hidden_dim=25", "-S",
                                        "train.init=he"]
