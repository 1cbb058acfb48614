"""pipeline.nn.schedules: the learning rate of each epoch."""
from __future__ import annotations

import math

import pytest

from pipeline.nn.schedules import SCHEDULES, Cosine, Exponential, Step, make_schedule


def test_exponential_decay():
    s = make_schedule("exponential", lr=0.1, lr_decay=0.99)
    assert [s(e) for e in range(3)] == pytest.approx([0.1, 0.099, 0.09801], rel=1e-12)


def test_exponential_default_is_constant():
    s = make_schedule("exponential", lr=0.05)
    assert [s(e) for e in range(4)] == [0.05] * 4


def test_cosine_from_lr_to_lr_min():
    s = make_schedule("cosine", lr=1.0, num_epochs=4, lr_min=0.1)
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(5)]
    got = [s(e) for e in range(5)]
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[0] == pytest.approx(1.0)
    assert got[2] == pytest.approx(0.55)  # half way: the mean of lr and lr_min
    assert got[4] == pytest.approx(0.1)  # reaches lr_min after num_epochs
    assert all(a > b for a, b in zip(got, got[1:]))  # strictly decreasing


def test_step_schedule():
    s = make_schedule("step", lr=0.2, step_size=2, gamma=0.5)
    assert [s(e) for e in range(6)] == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05, 0.05], rel=1e-12)


def test_unknown_schedule_rejected():
    assert set(SCHEDULES) == {"exponential", "cosine", "step"}
    with pytest.raises(ValueError, match="linear"):
        make_schedule("linear", lr=0.1)


def test_unknown_option_refused_naming_it():
    with pytest.raises(ValueError, match="schedule 'step' takes no lr_min; it takes lr, step_size, gamma"):
        make_schedule("step", lr=0.1, lr_min=0.0)
