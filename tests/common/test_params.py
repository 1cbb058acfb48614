"""pipeline.common.params: value rules, from_mapping, read_params/load_section; TrainParams validation."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import pytest

from pipeline.common.params import (
    ParamsError,
    choice,
    from_mapping,
    integer,
    list_of,
    load_section,
    number,
    param,
    read_params,
    text,
)
from pipeline.training import TrainParams


def _rejects(rule, where, value):
    with pytest.raises(ParamsError, match=f"^{re.escape(where)}") as info:
        rule(where, value)
    msg = str(info.value)
    assert where in msg, msg
    assert str(value) in msg, msg
    return msg


# ---- rules ----------------------------------------------------------------------------------------


def test_integer_rule():
    r = integer(1, 10)
    assert r("k", 1) == 1 and r("k", 10) == 10
    for bad in (0, 11, 2.5, "3", True, None, [1]):
        _rejects(r, "s.k", bad)
    assert integer(none_ok=True)("k", None) is None
    assert integer()("k", -5) == -5
    msg = _rejects(integer(1), "s.batch_size", True)  # bools are not integers here
    assert ">= 1" in msg


def test_number_rule():
    r = number(0, 1)
    assert r("k", 0) == 0.0 and isinstance(r("k", 1), float)
    assert r("k", 0.5) == 0.5
    for bad in (-0.1, 1.5, float("nan"), float("inf"), "0.5", True, None):
        _rejects(r, "s.k", bad)
    open_ = number(0, lo_open=True)
    assert open_("k", 1e-12) == 1e-12
    _rejects(open_, "s.lr", 0)
    _rejects(open_, "s.lr", -1)


def test_choice_rule():
    r = choice("a", "b")
    assert r("k", "a") == "a"
    msg = _rejects(r, "s.k", "c")
    assert "a" in msg and "b" in msg
    _rejects(r, "s.k", None)


def test_text_rule():
    r = text()
    assert r("k", "hello") == "hello"
    for bad in ("", 3, None, ["x"]):
        _rejects(r, "s.k", bad)


def test_list_of_rule():
    r = list_of(integer(0), min_len=2)
    assert r("k", [1, 2, 3]) == (1, 2, 3)
    _rejects(r, "s.k", [1])
    _rejects(r, "s.k", "12")
    _rejects(r, "s.k", (1, 2))  # YAML gives lists
    with pytest.raises(ParamsError, match=r"^s\.k\[1\] = -2 is not allowed") as info:
        r("s.k", [1, -2])
    assert "s.k[1]" in str(info.value) and "-2" in str(info.value)


# ---- from_mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    name: str = param(text(), doc="a name")
    size: int = param(integer(1), 3, "a size")
    rate: float = param(number(0), 0.5, "a rate")


def test_from_mapping_defaults_and_values():
    s = from_mapping(Section, {"name": "x"}, "p.yaml:sec")
    assert s == Section("x", 3, 0.5)
    s = from_mapping(Section, {"name": "y", "size": 7, "rate": 2}, "p.yaml:sec")
    assert s == Section("y", 7, 2.0) and isinstance(s.rate, float)


def test_from_mapping_unknown_key():
    with pytest.raises(ParamsError, match=r"unknown key\(s\) colour") as info:
        from_mapping(Section, {"name": "x", "colour": "red"}, "p.yaml:sec")
    msg = str(info.value)
    assert "colour" in msg and "p.yaml:sec" in msg


def test_from_mapping_missing_required_key():
    with pytest.raises(ParamsError, match="missing key 'name'") as info:
        from_mapping(Section, {"size": 2}, "p.yaml:sec")
    msg = str(info.value)
    assert "'name'" in msg and "p.yaml:sec" in msg


def test_from_mapping_bad_value_names_full_key():
    with pytest.raises(ParamsError, match=r"^p\.yaml:sec\.size = 0 is not allowed") as info:
        from_mapping(Section, {"name": "x", "size": 0}, "p.yaml:sec")
    assert "p.yaml:sec.size" in str(info.value) and "0" in str(info.value)


def test_from_mapping_not_a_mapping():
    with pytest.raises(ParamsError, match="p.yaml:sec"):
        from_mapping(Section, ["name"], "p.yaml:sec")


# ---- reading files --------------------------------------------------------------------------------


def test_read_params_missing_file(tmp_path):
    path = tmp_path / "params.yaml"
    with pytest.raises(ParamsError, match="params.yaml"):
        read_params(path)


def test_read_params_invalid_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n  lr: : 1\n")
    with pytest.raises(ParamsError, match="not valid YAML") as info:
        read_params(path)
    assert str(path) in str(info.value)


def test_read_params_not_a_mapping(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ParamsError, match="params.yaml"):
        read_params(path)


def test_load_section(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: 0.01\n  hidden_dim: 50\nother:\n  x: 1\n")
    cfg = load_section(TrainParams, "train", path)
    assert cfg.lr == 0.01 and cfg.hidden_dim == 50 and cfg.batch_size == 200
    with pytest.raises(ParamsError, match="evaluate"):
        load_section(TrainParams, "evaluate", path)
    path.write_text("train:\n  lr: -1\n")
    with pytest.raises(ParamsError, match=r"params\.yaml:train\.lr"):
        load_section(TrainParams, "train", path)


# ---- TrainParams ----------------------------------------------------------------------------------


def test_train_config_defaults_are_the_assignments():
    cfg = TrainParams.from_dict({}, "params.yaml:train")
    assert cfg.hidden_dim == 25
    assert cfg.lr == 1e-3
    assert cfg.batch_size == 200
    assert cfg.num_epochs == 10
    assert cfg.input_scaling == "raw"
    assert cfg.weight_scale == 1e-3
    assert cfg.update_rule == "sgd"
    assert cfg.reg == 0.0 and cfg.lr_decay == 1.0 and cfg.init == "normal"
    assert cfg == TrainParams()


@pytest.mark.parametrize(
    "key, value",
    [
        ("lr", -1),
        ("lr", 0),
        ("update_rule", "adagrad"),
        ("hidden_dim", 2.5),
        ("hidden_dim", 0),
        ("batch_size", True),
        ("num_epochs", "10"),
        ("dtype", "float16"),
        ("input_scaling", "zscore"),
        ("momentum", 1.5),
        ("seed", -1),
        ("schedule", "linear"),
        ("train_acc_samples", 0),
    ],
)
def test_train_config_rejects_bad_value(key, value):
    with pytest.raises(ParamsError, match=rf"^params\.yaml:train\.{key} = ") as info:
        TrainParams.from_dict({key: value}, "params.yaml:train")
    msg = str(info.value)
    assert f"params.yaml:train.{key}" in msg, msg
    assert str(value) in msg, msg


def test_train_config_rejects_unknown_key():
    with pytest.raises(ParamsError, match=r"unknown key\(s\) learning_rate") as info:
        TrainParams.from_dict({"learning_rate": 0.1}, "params.yaml:train")
    assert "learning_rate" in str(info.value)


def test_train_config_accepts_good_values():
    cfg = TrainParams.from_dict(
        {"hidden_dim": 100, "lr": 1, "update_rule": "adam", "train_acc_samples": None, "dtype": "float64",
         "input_scaling": "unit_centered", "schedule": "cosine", "lr_min": 0, "init": "he"},
        "params.yaml:train",
    )
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.update_rule == "adam" and cfg.hidden_dim == 100 and cfg.train_acc_samples is None


def test_with_overrides_validates():
    cfg = TrainParams()
    new = cfg.with_overrides({"lr": 0.5, "hidden_dim": 10}, "--set")
    assert new.lr == 0.5 and new.hidden_dim == 10
    assert cfg.lr == 1e-3  # the original is unchanged (frozen)
    assert dataclasses.replace(new, lr=1e-3, hidden_dim=25) == cfg
    with pytest.raises(ParamsError, match=r"^--set\.batch_size = 0 is not allowed") as info:
        cfg.with_overrides({"batch_size": 0}, "--set")
    assert "--set.batch_size" in str(info.value)
    with pytest.raises(ParamsError, match="nonsense"):
        cfg.with_overrides({"nonsense": 1}, "--set")
