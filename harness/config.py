"""RunConfig: how one run of the suite is set up, from behave userdata (-D name=value) and env.

Precedence: -D on the command line > behave.ini userdata > K2_<NAME> environment variable > default
(the environment fills only names that neither -D nor behave.ini set).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass

DRIVERS = ("local", "compose", "external")
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A run setting is malformed; the message names it and shows a valid example."""


# The least p99 end-to-end latency a freshness row is held to, per driver, whatever its sentence
# says. Under Docker Compose every service runs under a CPU cap of one core or less, behind Docker's
# network and health checks, and the suite polls the API through a published port: over 13
# freshness runs there the p99 ran 0.76 to 1.63 s, and a row of 1 s failed a CI run that was far
# inside the plan's 30 s (docs/benchmarks.md, "The p99 target on the compose stack"). The plan's
# rows say 2 s themselves since the local stack missed 1 s too on another machine; the floor
# still holds a team's tighter row to what compose can keep.
P99_FLOOR = {"compose": 2.0}
AS_WRITTEN = "as written"
"""How a run that holds every row to its own sentence's target sets them (`RunConfig.p99_setting`)."""


@dataclass(frozen=True)
class P99Target:
    seconds: float
    why: str
    """Where the target came from, for the verdict."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; use e.g. -D {name}=true")


def _number(name: str, raw: str, kind: type[int] | type[float], example: str) -> float:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; use e.g. -D {name}={example}") from None
    return value


def _rates(raw: str) -> tuple[float, ...]:
    """Empty: every rate the features name."""
    if not raw.strip():
        return ()
    try:
        rates = tuple(float(r) for r in raw.split(",") if r.strip())
    except ValueError:
        rates = ()
    if not rates or any(not 0 < r <= 100_000 for r in rates):
        raise ConfigError(f"rates={raw!r} is not a list of trades per second; use e.g. -D rates=10,50,100")
    return rates


@dataclass(frozen=True)
class RunConfig:
    driver: str = "local"
    profile: str = "infra"
    seed: int = 0
    timeout_multiplier: float = 1.0
    keep_stack: bool = False
    rates: tuple[float, ...] = ()
    """Only the Examples rows of these rates run (-D rates=100); empty: every rate the features name."""
    compose_file: str = ""
    """Driver compose only: the compose file (-D compose_file=...); empty means compose/docker-compose.yml."""
    endpoints: str = ""
    """Driver external only: the endpoints file of the K2 to verify (-D endpoints=FILE)."""
    p99_target: float | None = None
    """-D p99_target=N: the p99 end-to-end target of every freshness row, instead of its sentence's."""

    @staticmethod
    def from_sources(
        userdata: Mapping[str, str], env: Mapping[str, str] | None = None, rng: random.Random | None = None
    ) -> RunConfig:
        env = os.environ if env is None else env

        def get(name: str, default: str) -> str:
            return str(userdata.get(name) or env.get("K2_" + name.upper()) or default)

        driver = get("driver", "local")
        if driver not in DRIVERS:
            raise ConfigError(
                f"driver={driver!r} is unknown; choose one of {', '.join(DRIVERS)} (e.g. -D driver=local)"
            )
        endpoints = get("endpoints", "")
        if driver == "external" and not endpoints:
            raise ConfigError(
                "driver=external needs the deployment's endpoints file; use e.g. "
                "-D driver=external -D endpoints=targets/endpoints.example.yaml"
            )
        seed = int(_number("seed", get("seed", "0"), int, "42"))
        if seed == 0:  # random, but printed so the run can be replayed with -D seed=N
            seed = (rng or random.SystemRandom()).randint(1, 2**31 - 1)
        multiplier = _number("timeout_multiplier", get("timeout_multiplier", "1.0"), float, "2.5")
        if multiplier <= 0:
            raise ConfigError(f"timeout_multiplier={multiplier} must be above 0; use e.g. -D timeout_multiplier=2")
        p99 = get("p99_target", "")
        p99_target = _number("p99_target", p99, float, "2") if p99.strip() else None
        if p99_target is not None and p99_target <= 0:
            raise ConfigError(f"p99_target={p99_target:g} must be above 0; use e.g. -D p99_target=2")
        return RunConfig(
            driver=driver,
            profile=get("profile", "infra"),
            seed=seed,
            timeout_multiplier=multiplier,
            keep_stack=_bool("keep_stack", get("keep_stack", "false")),
            rates=_rates(get("rates", "")),
            compose_file=get("compose_file", ""),
            endpoints=endpoints,
            p99_target=p99_target,
        )

    def skip_reason(self, params: Mapping[str, str]) -> str | None:
        """Why a scenario (an Examples row, by its parameters) is left out of this run, if it is."""
        if self.rates and "rate" in params:
            try:
                rate = float(params["rate"])
            except ValueError:
                return None  # not a number: the step will say so
            if rate not in self.rates:
                return f"rate {params['rate']} is not in -D rates={','.join(f'{r:g}' for r in self.rates)}"
        return None

    def p99(self, sentence: float) -> P99Target:
        """The p99 target a freshness row is held to: -D p99_target, else its sentence's, raised to
        the driver's floor (P99_FLOOR)."""
        if self.p99_target is not None:
            return P99Target(self.p99_target, f"-D p99_target={self.p99_target:g}; the sentence says {sentence:g} s")
        floor = P99_FLOOR.get(self.driver, 0.0)
        if floor > sentence:
            return P99Target(floor, f"the {self.driver} stack's floor; the sentence says {sentence:g} s")
        return P99Target(sentence, "as the sentence says")

    def p99_setting(self) -> str:
        """How this run sets p99 targets, for the report's front page."""
        if self.p99_target is not None:
            return f"{self.p99_target:g} s (-D p99_target)"
        floor = P99_FLOOR.get(self.driver)
        return AS_WRITTEN if floor is None else f"{AS_WRITTEN}, at least {floor:g} s ({self.driver} stack)"

    def budget(self, seconds: float) -> float:
        """A time budget stated in a scenario, stretched for slow machines."""
        return seconds * self.timeout_multiplier
