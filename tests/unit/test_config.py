import random

import pytest

from harness.config import ConfigError, RunConfig


def test_defaults_with_a_random_seed_that_is_never_zero() -> None:
    cfg = RunConfig.from_sources({}, env={}, rng=random.Random(1))
    assert cfg.driver == "local"
    assert cfg.seed != 0
    assert cfg.budget(30) == 30


def test_a_given_seed_replays() -> None:
    assert RunConfig.from_sources({"seed": "42"}, env={}).seed == 42


def test_userdata_wins_over_the_environment() -> None:
    cfg = RunConfig.from_sources({"timeout_multiplier": "2"}, env={"K2_TIMEOUT_MULTIPLIER": "3", "K2_SEED": "7"})
    assert cfg.timeout_multiplier == 2
    assert cfg.seed == 7
    assert cfg.budget(30) == 60


@pytest.mark.parametrize(
    ("userdata", "message"),
    [
        ({"driver": "kubernetes"}, "driver='kubernetes' is unknown"),
        ({"seed": "abc"}, "seed='abc' is not a number; use e.g. -D seed=42"),
        ({"timeout_multiplier": "-1"}, "must be above 0"),
        ({"keep_stack": "maybe"}, "keep_stack='maybe' is not a yes/no value"),
        ({"rates": "10,fast"}, "rates='10,fast' is not a list of trades per second"),
        ({"rates": "0"}, "use e.g. -D rates=10,50,100"),
    ],
)
def test_bad_settings_name_themselves(userdata: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_sources(userdata, env={})


def test_rates_come_as_a_list() -> None:
    assert RunConfig.from_sources({"rates": "10, 50,1000"}, env={}).rates == (10.0, 50.0, 1000.0)
    assert RunConfig.from_sources({}, env={}).rates == ()


def test_rates_select_the_examples_rows_that_run() -> None:
    every = RunConfig.from_sources({}, env={})
    only = RunConfig.from_sources({"rates": "100"}, env={})
    assert every.skip_reason({"rate": "10"}) is None
    assert only.skip_reason({"rate": "100"}) is None
    assert only.skip_reason({"rate": "10"}) == "rate 10 is not in -D rates=100"
    assert only.skip_reason({"service": "kafka"}) is None  # rows without a rate always run
