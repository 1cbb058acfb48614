"""docs/params.md is what `python -m pipeline.tools.params_doc` writes, and it covers every key of params.yaml;
every key of params.yaml carries a comment."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.common.params import allowed, integer, list_of, number, read_params, text
from pipeline.search.settings import RUNTIME_KEYS, SearchParams
from pipeline.tools.params_doc import ParamsDocError, keys, loaded_sections, main, render, sections

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "params.md"


def leaf_keys(data: dict, prefix: str = "") -> set[str]:
    """Dotted paths of params.yaml down to the values the dataclasses declare (mappings they nest are opened)."""
    out = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        if prefix:
            out.add(path)
        if isinstance(value, dict) and path not in ("search.grid", "search.random.ranges"):
            out |= leaf_keys(value, path + ".")
    return out


def documented() -> dict[str, str]:
    """{key: its table row} as the page shows them."""
    return {m.group(1): line for line in PAGE.read_text().splitlines() if (m := re.match(r"\| `([\w.]+)` \|", line))}


def test_page_is_what_the_command_writes():
    assert PAGE.read_text() == render(ROOT), "docs/params.md is out of date: run make docs"


def test_check_option_fails_on_a_stale_page(tmp_path, capsys):
    page = tmp_path / "params.md"
    page.write_text(render(ROOT).replace("hidden units", "hidden neurons", 1))
    assert main(["--check", "--output", str(page)]) == 1
    assert "out of date; run: python -m pipeline.tools.params_doc" in capsys.readouterr().err
    assert main(["--output", str(page)]) == 0
    assert main(["--check", "--output", str(page)]) == 0
    assert page.read_text() == PAGE.read_text()


def test_every_params_yaml_key_and_section_is_on_the_page():
    in_yaml = leaf_keys(read_params(ROOT / "params.yaml"))
    on_page = set(documented())
    assert in_yaml <= on_page, f"not documented: {sorted(in_yaml - on_page)}"
    sections_on_page = {key.split(".")[0] for key in on_page}
    assert sections_on_page == set(read_params(ROOT / "params.yaml"))


def test_every_rule_says_what_it_allows():
    rows = documented()
    undescribed = [key for key, row in rows.items() if "(undescribed rule)" in row]
    assert undescribed == [], "declare what these keys allow: param(allowing('<words>', rule), ...)"
    assert "| an integer >= 1 <= 65536 |" in rows["train.hidden_dim"]
    assert "| one of grid, random, halving |" in rows["search.strategy"]
    assert "| `0.001` |" in rows["train.weight_scale"] and "init: normal" in rows["train.weight_scale"]


def test_rule_descriptions_are_the_words_of_their_errors():
    rule = number(0, 1)
    with pytest.raises(ValueError, match=re.escape(f"expected {allowed(rule)}")):
        rule("k", 2.0)
    assert allowed(integer(1, none_ok=True)) == "an integer >= 1 or null"
    assert allowed(list_of(text())) == "a list of at least 1 item(s), each a non-empty string"


def test_tracked_and_runtime_follow_dvc_yaml():
    rows = documented()
    runtime = {key for key, row in rows.items() if "| runtime |" in row}
    for key in RUNTIME_KEYS:
        assert key in runtime, key
    assert {"download.timeout", "download.file_deadline"} <= runtime
    assert "| tracked |" in rows["search.grid"] and "| tracked |" in rows["train.reg"]
    read_by = {s.name: s.stage for s in sections(ROOT)}
    for name in ("download", "split", "train", "search", "evaluate", "plot"):
        assert read_by[name] == name


def test_nested_sections_list_their_own_keys_with_the_parent_default():
    paths = {k.path: k for k in keys(SearchParams, "search")}
    assert paths["search.base"].default == "required"
    assert paths["search.random.ranges"].default == "{lr: [0.0001, 0.01], hidden_dim: [50, 300], reg: [0.0001, 0.1]}"
    assert paths["search.halving.eta"].default == "3"


def test_a_stage_whose_class_is_not_imported_by_name_is_refused(tmp_path):
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "stages").mkdir()
    for script in (ROOT / "stages").glob("*.py"):
        shutil.copy(script, tmp_path / "stages" / script.name)
    train = tmp_path / "stages" / "train.py"
    train.write_text(train.read_text().replace("load_section(TrainParams,", "load_section(Unknown,"))
    with pytest.raises(ParamsDocError, match=r"stages/train.py: load_section\(Unknown, \.\.\.\) names a class the script does not import"):
        render(tmp_path)


def test_every_key_of_params_yaml_carries_a_comment():
    bare = [f"params.yaml:{n}: {line.strip()}" for n, line in enumerate((ROOT / "params.yaml").read_text().splitlines(), 1)
            if re.match(r"^\s*[\w-]+:", line) and "#" not in line]
    assert bare == []


def test_a_class_named_through_its_module_is_found(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text("import pipeline.training\nfrom pipeline import evaluate as ev\n"
                      "from pipeline.common.params import load_section\n"
                      "a = load_section(pipeline.training.TrainParams, 'train')\n"
                      "b = load_section(ev.EvaluateParams, 'evaluate')\n")
    found = dict(loaded_sections(script))
    assert found["train"].__name__ == "TrainParams" and found["evaluate"].__name__ == "EvaluateParams"
    script.write_text("from pipeline.common.params import load_section\nsection = 'train'\n"
                      "a = load_section(TrainParams, section)\n")
    with pytest.raises(ParamsDocError, match=r"stage.py:3: load_section needs .* the name as a literal string"):
        dict(loaded_sections(script))
