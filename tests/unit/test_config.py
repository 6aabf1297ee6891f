import random

import pytest

from harness.config import P99_FLOOR, ConfigError, P99Target, RunConfig


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
        ({"p99_target": "fast"}, "p99_target='fast' is not a number; use e.g. -D p99_target=2"),
        ({"p99_target": "0"}, "p99_target=0 must be above 0"),
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


def test_a_p99_target_is_the_sentences_unless_set_or_below_the_stacks_floor() -> None:
    local = RunConfig.from_sources({}, env={})
    assert local.p99(1.0) == P99Target(1.0, "as the sentence says")
    assert local.p99_setting() == "as written"
    compose = RunConfig.from_sources({"driver": "compose"}, env={})
    assert compose.p99(1.0) == P99Target(P99_FLOOR["compose"], "the compose stack's floor; the sentence says 1 s")
    assert compose.p99(5.0).seconds == 5.0  # a floor never tightens a row
    assert compose.p99_setting() == f"as written, at least {P99_FLOOR['compose']:g} s (compose stack)"
    given = RunConfig.from_sources({"driver": "compose", "p99_target": " 0.5 "}, env={})
    assert given.p99(5.0) == P99Target(0.5, "-D p99_target=0.5; the sentence says 5 s")
    assert given.p99_setting() == "0.5 s (-D p99_target)"
    assert RunConfig.from_sources({"p99_target": " "}, env={}).p99_target is None
