"""pipeline.plotting.titles: titles name the run: key settings, then what differs from the defaults."""
from __future__ import annotations

from pipeline.plotting.titles import run_settings, title

DEFAULTS = {"hidden_dim": 25, "lr": 1e-3, "reg": 0.0, "num_epochs": 10, "update_rule": "sgd", "batch_size": 200,
            "seed": 0}


def test_defaults_show_only_the_key_settings() -> None:
    assert run_settings(DEFAULTS, DEFAULTS) == "H=25, lr=0.001, reg=0, 10 epochs"


def test_changed_settings_follow_the_key_settings() -> None:
    config = {**DEFAULTS, "reg": 0.01, "update_rule": "adam", "seed": 2}
    assert run_settings(config, DEFAULTS) == "H=25, lr=0.001, reg=0.01, 10 epochs, update_rule=adam, seed=2"


def test_skipped_keys_and_unknown_keys_are_left_out() -> None:
    config = {**DEFAULTS, "hidden_dim": 256, "num_epochs": 1, "extra": 5}
    assert run_settings(config, DEFAULTS, skip=("hidden_dim", "lr", "reg")) == "1 epoch"


def test_title_wraps_settings_to_the_figure_width() -> None:
    settings = ", ".join(f"key{i}={i}" for i in range(30))
    text = title("Heading", settings, width_inches=5.0)
    lines = text.split("\n")
    assert lines[0] == "Heading" and len(lines) > 2
    assert all(len(line) <= 40 for line in lines[1:]) and max(len(line) for line in lines[1:]) >= 35
    assert " ".join(lines[1:]) == settings
    # A setting is never split across lines.
    assert title("H", "H=16, lr=0.001, reg=0.01, 20 epochs", 2.0) == "H\nH=16, lr=0.001,\nreg=0.01, 20 epochs"
    assert title("Heading", "", 10.0) == "Heading"
