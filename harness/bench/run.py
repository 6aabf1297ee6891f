"""The bench run: its own stack, the phases in order, the report written after each phase.

The bench brings up a full stack of its own, in .stack-bench on ports shifted by 400
(K2_BENCH_STACK_DIR, K2_BENCH_PORT_OFFSET), purged first so every run starts from an empty
table, and stops it at the end, whatever happens (unless --keep-stack). It never touches the
suite's stack (.stack) or its table: 1,000,000 synthetic rows there would slow every scenario.
With --reuse it runs on a bench stack left running by an earlier `--keep-stack` run instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.bench import api_latency, commit_cost, profile, ramp, report
from harness.endpoints import Endpoints
from harness.stack.driver import StackError
from harness.stack.local import LocalDriver
from harness.stack.settings import DEFAULT_PORTS, REPO_ROOT, StackSettings
from harness.waiting import ConditionTimeout, eventually
from harness.workload.exchange import ExchangeControl

Say = Callable[[str], None]

PHASES = ("pipeline", "api", "commit")
BENCH_STACK_DIR = REPO_ROOT / ".stack-bench"
BENCH_PORT_OFFSET = 400
MAX_RATE = 100_000  # the exchange simulator's largest emit rate
REPORTS = REPO_ROOT / "reports"
JSON_NAME = "bench.json"
PNG_NAME = "bench.png"
# what places the suite's own stack: never carried over to the bench's
SUITE_STACK_VARIABLES = ("K2_STACK_DIR", "K2_STACK_PORT_OFFSET")


class BenchError(ValueError):
    """The bench was asked for something it cannot do; the message says what to change."""


@dataclass(frozen=True)
class Plan:
    phases: tuple[str, ...]
    rates: tuple[float, ...]
    duration: float
    api_requests: int
    api_budget_s: float
    rows: int
    batches: int
    commit_sizes: tuple[int, ...]
    commit_repeats: int
    quick: bool
    profile: bool = False
    """Sample the Python services with py-spy during each ramp step (profile.py)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_plan(
    quick: bool = False,
    phases: Sequence[str] | None = None,
    rates: Sequence[float] | None = None,
    duration: float | None = None,
    api_requests: int | None = None,
    profile: bool = False,
) -> Plan:
    """What to run: the defaults (or the quick ones), with the command line's overrides, checked."""
    chosen = tuple(p for p in PHASES if p in set(phases)) if phases else PHASES
    unknown = sorted(set(phases or ()) - set(PHASES))
    if unknown:
        raise BenchError(f"unknown phase {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    steps = tuple(float(r) for r in rates) if rates else (ramp.QUICK_RATES if quick else ramp.RATES)
    bad = [r for r in steps if not 0 < r <= MAX_RATE]
    if bad:
        raise BenchError(
            f"--rate {bad[0]:g} is out of range; give trades per second above 0 and at most "
            f"{MAX_RATE:,}, e.g. --rate 1000"
        )
    seconds = duration if duration is not None else (ramp.QUICK_DURATION_S if quick else ramp.DURATION_S)
    if not seconds > 0:
        raise BenchError(f"--duration {seconds:g} must be above 0 seconds; e.g. --duration 20")
    n = api_requests if api_requests is not None else (api_latency.QUICK_REQUESTS if quick else api_latency.REQUESTS)
    if n < 2:
        raise BenchError(
            f"--api-requests {n} is too few: the first request is the cold one, so at least 2 (e.g. --api-requests 200)"
        )
    return Plan(
        phases=chosen,
        rates=steps,
        duration=seconds,
        api_requests=n,
        api_budget_s=api_latency.QUICK_BUDGET_S if quick else api_latency.BUDGET_S,
        rows=api_latency.ROWS,
        batches=api_latency.BATCHES,
        commit_sizes=commit_cost.SIZES,
        commit_repeats=commit_cost.QUICK_REPEATS if quick else commit_cost.REPEATS,
        quick=quick,
        profile=profile,
    )


def bench_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment that places the bench stack: the caller's, without what places the suite's
    stack (K2_STACK_DIR, K2_STACK_PORT_OFFSET, K2_PORT_*), with the bench's directory and offset."""
    out = {k: v for k, v in env.items() if k not in SUITE_STACK_VARIABLES and not k.startswith("K2_PORT_")}
    out["K2_STACK_DIR"] = env.get("K2_BENCH_STACK_DIR") or str(BENCH_STACK_DIR)
    out["K2_STACK_PORT_OFFSET"] = env.get("K2_BENCH_PORT_OFFSET") or str(BENCH_PORT_OFFSET)
    return out


def bench_settings(env: Mapping[str, str] | None = None) -> StackSettings:
    return StackSettings.from_env(bench_env(os.environ if env is None else env))


def stack_command(settings: StackSettings, action: str = "up --profile full") -> str:
    """The `stack` command for the bench stack by hand (the directory and the port offset both matter:
    `down` waits for the stack's own ports to be free)."""
    offset = settings.ports["kafka"] - DEFAULT_PORTS["kafka"]
    return f"K2_STACK_DIR={settings.root} K2_STACK_PORT_OFFSET={offset} python -m harness stack {action}"


def full_stack_endpoints(driver: LocalDriver, reuse: bool) -> Endpoints:
    """The endpoints of the bench's full stack: started here, or (reuse) found ready."""
    settings = driver.settings
    if reuse:
        status = driver.status(resources=False)
        if status.profile != "full" or not status.ready:
            raise StackError(
                f"--reuse needs the bench's full stack ready in {settings.root}, and it is not; "
                f"start it with `{stack_command(settings)}` (or run the bench with --keep-stack "
                "once), or run without --reuse"
            )
    else:
        driver.down(purge=True)  # a fresh, empty table every run
        status = driver.up("full")
        if not status.ready:
            waiting = ", ".join(f"{n} ({s.state}: {s.detail})" for n, s in status.services.items() if not s.ready)
            raise StackError(f"the bench stack did not become ready: {waiting}")
    endpoints = driver.endpoints()
    missing = [name for name in ("exchange", "api", "consumer", "ingest") if not endpoints.has(name)]
    if missing:
        raise StackError(
            f"the bench stack in {settings.root} has no {', '.join(missing)}: it needs the full "
            f"profile; run `{stack_command(settings)}`"
        )
    return endpoints


QUIET_WITHIN_S = 300.0


def quiesce(
    read_lag: Callable[[], int],
    read_pending: Callable[[], int],
    say: Say,
    within: float = QUIET_WITHIN_S,
    every: float = 1.0,
) -> bool:
    """Wait until the pipeline is idle (the exchange has nothing left to emit and the consumer no
    lag), so that a failed ramp step's backlog does not commit snapshots (and use the cores) under
    the API and commit measurements. False (and a warning) if it is still busy after `within` s."""
    last: dict[str, int] = {}

    def idle() -> bool:
        last.update(pending=read_pending(), lag=read_lag())
        return last["pending"] == 0 and last["lag"] == 0

    try:
        eventually(idle, within=within, every=every, describe="pipeline idle")
    except ConditionTimeout:
        say(
            f"[bench] WARNING: the pipeline is still busy after {within:g} s (exchange pending "
            f"{last.get('pending', '?')}, consumer lag {last.get('lag', '?')}); measuring anyway"
        )
        return False
    return True


def cpu_reader(driver: LocalDriver) -> Callable[[str], float | None]:
    def cpu(service: str) -> float | None:
        try:
            return driver.resources(service).cpu_seconds
        except Exception:  # not running (restarting) or unreadable: that step's figure is unknown
            return None

    return cpu


def run(
    plan: Plan,
    say: Say,
    out_dir: Path = REPORTS,
    keep_stack: bool = False,
    reuse: bool = False,
    settings: StackSettings | None = None,
    driver: LocalDriver | None = None,
) -> dict[str, Any]:
    """Run the plan's phases on the bench stack; returns the report (also written to out_dir).
    The stack is stopped at the end however the run ends (error, Ctrl-C), unless kept or reused."""
    from harness.measure import measure_flow  # imports the probes only when benchmarking

    driver = driver or LocalDriver(settings or bench_settings(), say=say)
    settings = driver.settings
    started = time.time()
    facts = report.machine()
    sections: dict[str, Any] = {"pipeline": None, "api": None, "commit": None}
    errors: dict[str, str] = {}
    settings_facts = {**plan.as_dict(), "stack_dir": str(settings.root), "api_port": settings.ports["api"]}

    def save() -> dict[str, Any]:
        built = report.build(
            sections["pipeline"],
            sections["api"],
            sections["commit"],
            settings_facts,
            errors,
            facts,
            started,
            time.time(),
        )
        if sections.get("profiles"):
            built["profiles"] = sections["profiles"]
        report.write_json(built, out_dir / JSON_NAME)
        return built

    say(
        f"[bench] phases {', '.join(plan.phases)}; stack in {settings.root} (api on port {settings.ports['api']})"
        + (" (quick)" if plan.quick else "")
    )
    try:
        say(
            "[bench] reusing the running bench stack"
            if reuse
            else "[bench] starting the bench stack (profile full) ..."
        )
        endpoints = full_stack_endpoints(driver, reuse)
        read_lag = ramp.consumer_lag_reader(endpoints.status_url("consumer"))

        def idle() -> bool:
            exchange = ExchangeControl(endpoints.control_url())
            try:
                return quiesce(read_lag, exchange.pending, say)
            finally:
                exchange.close()

        for phase in plan.phases:
            t0 = time.monotonic()
            try:
                if phase == "pipeline":

                    def step(rate: float, duration: float) -> Any:
                        recordings = {}
                        if plan.profile:
                            pids = {s: driver.python_pid(s) for s in profile.SERVICES}
                            folder = out_dir / "profiles" / f"{rate:g}"
                            recordings = profile.start({s: p for s, p in pids.items() if p}, duration, folder)
                        try:
                            return measure_flow(
                                endpoints, rate, duration, say=say, per_symbol=True, settle=ramp.SETTLE_S, strict=False
                            )
                        finally:
                            if recordings:
                                found = profile.finish(recordings)
                                sections.setdefault("profiles", {})[f"{rate:g}"] = found
                                for line in profile.lines(found):
                                    say(f"[bench]   {line}")

                    def partial(steps: list[ramp.StepResult]) -> None:
                        sections["pipeline"] = [s.as_dict() for s in steps]
                        save()

                    ramp.run_ramp(
                        plan.rates,
                        plan.duration,
                        step,
                        cpu_reader(driver),
                        read_lag,
                        say,
                        on_step=partial,
                        warm_up=ramp.WARM_UP,
                    )
                elif phase == "api":
                    quiet = idle()
                    measured = api_latency.measure_api(
                        endpoints,
                        say,
                        requests=plan.api_requests,
                        budget_s=plan.api_budget_s,
                        rows=plan.rows,
                        batches=plan.batches,
                        reuse=reuse,
                    )
                    sections["api"] = {**measured, "pipeline_idle_at_start": quiet}
                else:
                    idle()
                    sections["commit"] = commit_cost.measure_commits(
                        endpoints, say, sizes=plan.commit_sizes, repeats=plan.commit_repeats
                    )
            except Exception as exc:  # one phase failing must not lose the others' results
                errors[phase] = f"{type(exc).__name__}: {exc}"[:1000]
                say(f"[bench] {phase}: ERROR {errors[phase]}")
            say(f"[bench] {phase} done in {time.monotonic() - t0:.0f} s")
            save()
    finally:
        if keep_stack or reuse:
            say(f"[bench] the bench stack keeps running; stop it with `{stack_command(settings, 'down')}`")
        else:
            say("[bench] stopping the bench stack ...")
            try:
                driver.down()
            except Exception as exc:  # the results stand; say what may be left running
                say(
                    f"[bench] stopping the bench stack failed: {type(exc).__name__}: {exc}; run "
                    f"`{stack_command(settings, 'down')}`"
                )
    built = save()
    if built["pipeline"] or built["commit"]:
        (out_dir / PNG_NAME).write_bytes(report.plot(built))
    say(
        f"[bench] report: {out_dir / JSON_NAME}"
        + (f", {out_dir / PNG_NAME}" if built["pipeline"] or built["commit"] else "")
        + f" ({built['wall_s']:.0f} s)"
    )
    return built
