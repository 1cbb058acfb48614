"""pipeline.common.plan: the memory estimate of a run and the refusal naming the setting that is too large."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.errors import PipelineError
from pipeline.common.plan import PlanError, available_memory, check_plan, check_search_plan, estimate, human
from pipeline.search.settings import SearchParams
from pipeline.training import TrainParams

GIB = 1 << 30
SHAPE = (55000, 784)


def test_the_assignment_runs_fit_in_a_small_budget():
    check_plan(TrainParams(), SHAPE, "params.yaml:train", available=64 << 20)
    parts = estimate(TrainParams(), SHAPE)
    assert parts["num_epochs"][2] == "2,750 iterations"  # 10 epochs of 55,000 // 200


@pytest.mark.parametrize("overrides, key, phrase", [
    ({"num_epochs": 10**9}, "num_epochs", "loss history"),
    ({"hidden_dim": 65536, "dtype": "float64", "update_rule": "adam"}, "hidden_dim", "parameters and activations"),
])
def test_refusal_names_the_setting(overrides, key, phrase):
    config = TrainParams(**overrides)
    with pytest.raises(PlanError, match=rf"^params\.yaml:train\.{key} = .* is too large") as info:
        check_plan(config, SHAPE, "params.yaml:train", available=2 * GIB)
    message = str(info.value)
    assert message.startswith(f"params.yaml:train.{key} = {getattr(config, key)} is too large")
    assert phrase in message and "2.0 GiB available" in message
    assert isinstance(info.value, PipelineError)


def test_batch_buffers_are_named_when_they_dominate():
    config = TrainParams(batch_size=10**7)
    with pytest.raises(PlanError, match=r"train.batch_size = 10000000 is too large"):
        check_plan(config, (10**7, 784), "train", available=GIB)


def test_copies_share_the_memory():
    config = TrainParams(num_epochs=20000)
    need = sum(size for _, size, _ in estimate(config, SHAPE).values())
    check_plan(config, SHAPE, "t", available=need)
    with pytest.raises(PlanError, match=r"^t\.num_epochs = 20000 is too large"):
        check_plan(config, SHAPE, "t", available=need, copies=2)


def test_search_plan_names_grid_or_base():
    params = SearchParams.from_dict({"grid": {"num_epochs": [1, 10**9]}, "base": {}}, "params.yaml:search")
    with pytest.raises(PlanError, match=r"^params.yaml:search.grid.num_epochs = 1000000000 is too large"):
        check_search_plan(params, SHAPE, "params.yaml:search", available=GIB)
    params = SearchParams.from_dict({"grid": {"lr": [0.1]}, "base": {"num_epochs": 10**9}}, "params.yaml:search")
    with pytest.raises(PlanError, match=r"^params.yaml:search.base.num_epochs = 1000000000"):
        check_search_plan(params, SHAPE, "params.yaml:search", available=GIB)


def test_available_memory_is_positive_and_human_readable():
    room = available_memory()
    # The least of several limits, so at most the kernel's MemAvailable (read again: it moves a little).
    meminfo = Path("/proc/meminfo").read_text()
    mem_available = int(re.search(r"^MemAvailable:\s+(\d+) kB$", meminfo, re.M).group(1)) * 1024
    assert room is not None and 0 < room <= 1.25 * mem_available
    assert human(1536) == "1.5 KiB" and human(3 * GIB) == "3.0 GiB" and human(10) == "10 B"


def test_optimizer_state_and_item_size_come_from_the_optimizer_and_model():
    from pipeline.nn.optim import OPTIMIZERS

    n_params = 784 * 100 + 100 + 100 * 10 + 10
    size = {rule: estimate(TrainParams(hidden_dim=100, update_rule=rule), SHAPE)["hidden_dim"][1] for rule in OPTIMIZERS}
    for rule, cls in OPTIMIZERS.items():  # one parameter-sized float32 array per optimizer slot
        assert size[rule] - size["sgd"] == len(cls.slots) * n_params * 4, rule
    assert size["adam"] - size["rmsprop"] == n_params * 4
    double = estimate(TrainParams(hidden_dim=100, dtype="float64"), SHAPE)["hidden_dim"][1]
    assert double == 2 * size["sgd"]
