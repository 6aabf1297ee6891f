"""Command line of the harness: `python -m harness --help`.

python -m harness setup                      install the stack's components (idempotent)
python -m harness setup-docker [--no-build]  Docker engine, compose CLI, base image, images (idempotent)
python -m harness stop-docker                stop the Docker engine setup-docker started, if any
python -m harness stack [--driver compose] up [--profile P] [--json]
python -m harness stack down [--purge]
python -m harness stack status [--json]
python -m harness stack logs SERVICE [--tail N]
python -m harness stack start|stop|kill|restart|pause|resume SERVICE
python -m harness measure [--rate R ...] [--duration S] [--json]
python -m harness bench [--quick] [--json] [--only PHASE ...] [--keep-stack] [--reuse]
python -m harness soak [--runs N] [-- BEHAVE_ARGS]
python -m harness scan-secrets [PATH ...]
python -m harness prove-defects [--only NAME ...] [-- BEHAVE_ARGS]
python -m harness target check [FILE ...]
python -m harness platform check [FILE ...]
python -m harness stack endpoints [--out FILE]
python -m harness criteria [--results DIR] [--latency FILE] [--out FILE] [--history FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from harness.allure_results import ResultsMissing
from harness.defects import DefectError
from harness.stack.components import ComponentMissing
from harness.stack.docker_setup import DockerSetupError
from harness.stack.driver import StackError, StackStatus
from harness.stack.drivers import DRIVERS, make_driver
from harness.stack.local import LocalDriver
from harness.stack.provision import ProvisionError, provision
from harness.stack.services import PLANNED_PROFILES, PROFILES, SERVICES, ProfileError
from harness.stack.settings import REPO_ROOT, SettingsError, StackSettings

SERVICE_ACTIONS = ("start", "stop", "kill", "restart", "pause", "resume")
EXPECTED_ERRORS = (
    StackError,
    ComponentMissing,
    ProvisionError,
    SettingsError,
    ProfileError,
    DockerSetupError,
    DefectError,
    ResultsMissing,
)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="K2 acceptance harness: set up and drive the stack of real services (native processes, "
        "or Docker Compose).",
        epilog="Settings come from the environment: K2_STACK_DIR, K2_CACHE_DIR, K2_STACK_PORT_OFFSET, "
        "K2_PORT_<NAME>. See README.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "setup",
        help="install Kafka, Apicurio Registry, SeaweedFS and PostgreSQL (idempotent)",
        description="Install every component of the local stack into the cache directory.",
    )

    docker = sub.add_parser(
        "setup-docker",
        help="set up Docker for the compose stack: engine, compose CLI, base image, images",
        description="Make the Docker Compose stack runnable here: use a running Docker engine or install and "
        "start Debian's; a Compose CLI v2+ (built from the Go module proxy when missing); a base "
        "image (debian:bookworm-slim, or one made with debootstrap when no registry answers); the "
        "local stack's components and the platform's wheels in each image's build context; "
        "compose/.env; then `docker compose build`. Idempotent.",
    )
    docker.add_argument("--no-build", action="store_true", help="prepare everything but build no image")
    sub.add_parser(
        "stop-docker",
        help="stop the Docker engine that setup-docker started (never another one)",
        description="Stop the Docker engine `setup-docker` started, with its containers; an engine "
        "that was already running when set-up ran is left alone.",
    )

    stack = sub.add_parser(
        "stack",
        help="start, stop and inspect the stack (local, or --driver compose)",
        description="Manage the stack: native processes (--driver local, the default) or the "
        "Docker Compose stack of compose/ (--driver compose).",
    )
    stack.add_argument(
        "--driver",
        choices=DRIVERS,
        default="local",
        help="local: native processes (default); compose: Docker Compose (make setup-docker first)",
    )
    stack.add_argument(
        "--compose-file",
        default="",
        metavar="PATH",
        help="with --driver compose: the compose file (default compose/docker-compose.yml)",
    )
    stack.add_argument(
        "--endpoints",
        default="",
        metavar="FILE",
        help="with --driver external: the endpoints file of a K2 the suite did not start",
    )
    ssub = stack.add_subparsers(dest="action", required=True, metavar="ACTION")
    profiles = sorted({*PROFILES, *PLANNED_PROFILES})
    up = ssub.add_parser(
        "up",
        help="start a profile's services in dependency order; reuses a ready stack",
        description="Start every service of a profile, dependencies first, and wait until "
        "each answers a real client call.",
    )
    up.add_argument("--profile", default="infra", choices=profiles, help="which services (default: infra)")
    up.add_argument("--json", action="store_true", help="print the status as JSON (progress goes to stderr)")
    down = ssub.add_parser(
        "down",
        help="stop every process of the stack and free its ports",
        description="Stop every process of the stack, dependents first.",
    )
    down.add_argument("--purge", action="store_true", help="also delete data, logs and generated secrets")
    status = ssub.add_parser("status", help="state, pid, memory of each service, and client settings")
    status.add_argument("--json", action="store_true", help="print as JSON")
    endpoints = ssub.add_parser(
        "endpoints",
        help="write where the stack's services are as an endpoints file",
        description="Write the running stack's endpoints in the shape `-D driver=external "
        "-D endpoints=FILE` reads (secrets included: the file is made 0600).",
    )
    endpoints.add_argument("--out", type=Path, default=None, metavar="FILE", help="write here (default: stdout)")
    endpoints.add_argument(
        "--no-control",
        action="store_true",
        help="leave out the exchange simulator's control API, as a real exchange has none",
    )
    logs = ssub.add_parser("logs", help="print a service's log")
    logs.add_argument("service", choices=sorted(SERVICES))
    logs.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    measure = sub.add_parser(
        "measure",
        help="throughput and exchange->API latency of the running full stack under a steady load",
        description="Emit trades at a steady rate through the running full stack (start it with "
        "`stack up --profile full`) and report throughput served, per-trade latency "
        "percentiles, and lost/duplicated counts.",
    )
    measure.add_argument(
        "--rate",
        type=float,
        action="append",
        metavar="TRADES_PER_S",
        help="trades per second over all symbols; repeat for several levels (default 100)",
    )
    measure.add_argument("--duration", type=float, default=20.0, metavar="SECONDS", help="emit for this long")
    measure.add_argument("--json", action="store_true", help="print the results as JSON")
    bench = sub.add_parser(
        "bench",
        help="benchmark the platform on a full stack of its own: pipeline ramp, API latency over "
        "1,000,000 rows, Iceberg commit cost",
        description="Start a full stack of the bench's own (.stack-bench, ports shifted by 400; never the "
        "suite's stack), then: offer 100 to 10,000 trades/s until a step fails (throughput, "
        "exchange->API latency, consumer lag, CPU per 1,000 trades); load 1,000,000 synthetic "
        "trades and time the API's queries, cold and warm; time Iceberg commits of 100 to 50,000 "
        "rows. Writes reports/bench.json and reports/bench.png, prints a table, and stops the "
        "stack. Exit status 1 when a phase could not be measured (missed targets are results, "
        "not errors).",
        epilog="K2_BENCH_STACK_DIR and K2_BENCH_PORT_OFFSET move the bench stack (default .stack-bench, 400).",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="rates 100, 1000, 5000 for 10 s each, 50 requests per query, 3 commits per size",
    )
    bench.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    bench.add_argument(
        "--only",
        action="append",
        choices=("pipeline", "api", "commit"),
        metavar="PHASE",
        help="run only this phase (pipeline, api or commit); repeat for several",
    )
    bench.add_argument(
        "--rate",
        type=float,
        action="append",
        metavar="TRADES_PER_S",
        help="the ramp's rates instead of the default ones; repeat for each step",
    )
    bench.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="emit for this long per step (default 20, quick 10)",
    )
    bench.add_argument(
        "--api-requests", type=int, default=None, metavar="N", help="requests per kind of query (default 200, quick 50)"
    )
    bench.add_argument(
        "--profile",
        action="store_true",
        help="sample the Python services with py-spy during each ramp step (reports/profiles/<rate>/)",
    )
    bench.add_argument("--keep-stack", action="store_true", help="leave the bench stack running at the end")
    bench.add_argument(
        "--reuse",
        action="store_true",
        help="run on the bench stack left running by --keep-stack instead of a fresh one",
    )
    bench.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write bench.json and bench.png (default reports/)",
    )
    soak = sub.add_parser(
        "soak",
        help="the full default suite N times, each from a stopped stack: passes, failures, wall times",
        description="Run `behave` (the default features) N times, each after `stack down`, and print each "
        "run's result and wall time. The reports of failed runs are kept in reports/soak/.",
    )
    soak.add_argument("--runs", type=int, default=10, metavar="N", help="how many runs (default 10)")
    soak.add_argument("behave_args", nargs="*", metavar="BEHAVE_ARG", help="passed to behave (after --)")
    leaks = sub.add_parser(
        "scan-secrets",
        help="fail if a secret of the stack appears in reports or service logs",
        description="Search every file under the given folders (default: reports/ and the stack's logs) for "
        "the stack's API key, S3 keys and database password, as text, percent-encoded and "
        "JSON-escaped. Findings name the file, line and secret, never its value.",
    )
    leaks.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders to scan")
    defects = sub.add_parser(
        "prove-defects",
        help="the features against each deliberately broken platform (tests/defects/*.patch)",
        description="For each defect of tests/defects/: apply its patch to a copy of k2/, run the features its "
        "header names on a local stack that runs the copy (stopping at the first failure), and "
        "write the matrix to reports/defects.md. Exit 1 if any defect passed every scenario.",
    )
    defects.add_argument("--only", nargs="+", default=[], metavar="NAME", help="only these defects")
    defects.add_argument("--list", action="store_true", help="list the defects and exit")
    defects.add_argument("behave_args", nargs=argparse.REMAINDER, help="after --: more behave arguments")
    target = sub.add_parser(
        "target",
        help="check a target profile (targets/*.yaml): every problem at once",
        description="A target profile names everything the suite checks of one K2 "
        "deployment. `check` validates each FILE (default: the suite's own) and "
        "prints every problem of it, or what it names.",
    )
    tsub = target.add_subparsers(dest="target_command", required=True)
    check = tsub.add_parser("check", help="validate target profiles; exit 1 if one has a problem")
    check.add_argument("files", nargs="*", type=Path, metavar="FILE", help="profiles (default: the suite's own)")
    platform = sub.add_parser(
        "platform",
        help="check a platform file (platforms/*.yaml): every problem at once",
        description="A platform file names the processes that play the platform's roles on "
        "our stack (K2_PLATFORM_FILE). `check` validates each FILE (default: "
        "the reference K2's) and prints every problem, or what each role runs.",
    )
    psub = platform.add_subparsers(dest="platform_command", required=True)
    pcheck = psub.add_parser("check", help="validate platform files; exit 1 if one has a problem")
    pcheck.add_argument("files", nargs="*", type=Path, metavar="FILE", help="platform files (default: the reference)")
    crit = sub.add_parser(
        "criteria",
        help="reports/success-criteria.md: each success criterion judged from one run's results, with its figure",
        description="Judge each criterion of the test plan from one run's Allure results and latency.json: the "
        "scenarios that prove it (passed / run), the figure to show, and met, NOT MET or not run. Appends the "
        "run's latency to the history (once per latency.json) and draws latency-trend.png next to the report.",
    )
    crit.add_argument(
        "--results",
        type=Path,
        default=REPO_ROOT / "reports" / "allure-results",
        metavar="DIR",
        help="the run's Allure results (default reports/allure-results)",
    )
    crit.add_argument(
        "--latency",
        type=Path,
        default=REPO_ROOT / "reports" / "latency.json",
        metavar="FILE",
        help="the run's latency figures (default reports/latency.json)",
    )
    crit.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "reports" / "success-criteria.md",
        metavar="FILE",
        help="where to write the report (default reports/success-criteria.md)",
    )
    crit.add_argument(
        "--history",
        type=Path,
        default=REPO_ROOT / "reports" / "history" / "latency.jsonl",
        metavar="FILE",
        help="the latency history across runs (default reports/history/latency.jsonl)",
    )
    helps = {
        "start": "start one service (its dependencies must be ready)",
        "stop": "stop one service gracefully (SIGKILL after a grace period)",
        "kill": "kill one service at once (SIGKILL); its data stays",
        "restart": "stop then start one service",
        "pause": "freeze one service (SIGSTOP)",
        "resume": "unfreeze a paused service (SIGCONT)",
    }
    for action in SERVICE_ACTIONS:
        p = ssub.add_parser(action, help=helps[action], description=helps[action])
        p.add_argument("service", choices=sorted(SERVICES))
    return parser


def print_status(status: StackStatus) -> None:
    print(f"profile: {status.profile or '-'}")
    for name, s in status.services.items():
        mem = f"{s.memory_mb:.0f} MiB" if s.memory_mb is not None else "-"
        print(f"  {name:<16} {s.state:<9} pid {s.pid or '-':<8} mem {mem:<9} {s.detail}")
    if status.endpoints.has("kafka"):
        print("clients:")
        c = status.endpoints
        print(f"  kafka            {c.kafka.bootstrap}")
        print(f"  schema registry  {c.registry.url}")
        print(f"  s3               {c.object_store.endpoint} bucket {c.object_store.bucket}")
        print(f"  postgres         {c.postgres.dsn.split('@')[-1]}")
        print("  (secrets: `python -m harness stack status --json`)")


def run_stack(args: argparse.Namespace) -> int:
    if args.driver == "external" and not args.endpoints:
        raise StackError("--driver external needs --endpoints FILE (see docs/verifying-your-k2.md)")
    driver = make_driver(args.driver, args.compose_file, say=_err, endpoints=args.endpoints)
    if args.action == "endpoints":
        found = driver.endpoints().to_json()
        if args.no_control and "exchange" in found:
            found["exchange"].pop("control_url", None)
        text = yaml.safe_dump(found, sort_keys=False)
        if args.out is None:
            print(text, end="")
            return 0
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.touch(mode=0o600)
        args.out.chmod(0o600)
        args.out.write_text(text)
        _err(f"[stack] endpoints written to {args.out}")
        return 0
    if args.action == "up":
        t0 = time.monotonic()
        status = driver.up(args.profile)
        _err(f"[stack] up finished in {time.monotonic() - t0:.1f} s")
        print(json.dumps(status.to_json(), indent=2)) if args.json else print_status(status)
        return 0 if status.ready else 1
    if args.action == "down":
        t0 = time.monotonic()
        stopped = driver.down(purge=args.purge)
        _err(
            f"[stack] down finished in {time.monotonic() - t0:.1f} s "
            f"({', '.join(stopped) if stopped else 'nothing was running'})"
        )
        return 0
    if args.action == "status":
        status = driver.status()
        print(json.dumps(status.to_json(), indent=2)) if args.json else print_status(status)
        return 0
    if args.action == "logs":
        print(driver.logs(args.service, tail=args.tail))
        return 0
    result = getattr(driver, args.action)(args.service)
    health = result if result is not None else driver.health(args.service)
    print(f"{args.service}: {health.state} ({health.detail})")
    return 0


def run_measure(args: argparse.Namespace) -> int:
    from harness.measure import measure_flow  # imports the probes only when measuring

    driver = LocalDriver(StackSettings.from_env(), say=_err)
    status = driver.status()
    if status.profile not in ("full", "cluster") or not status.ready:
        raise StackError(
            "measuring needs the full (or cluster) stack ready: run `python -m harness stack up --profile full`"
        )
    results = [
        measure_flow(status.endpoints, rate, args.duration, say=_err, per_symbol=True) for rate in args.rate or [100.0]
    ]
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return 0 if all(r.verdict.valid for r in results) else 1
    print(
        f"{'rate/s':>8} {'served/s':>9} {'emitted':>8} {'lost':>5} {'dup':>4} "
        f"{'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7} {'ingest p99 s':>13}"
    )
    for r in results:
        c, e = r.verdict.counts, r.end_to_end
        served = "?" if r.throughput is None else f"{r.throughput:.1f}"
        print(
            f"{r.rate:>8g} {served:>9} {c['expected']:>8} {c['lost']:>5} {c['duplicated']:>4} "
            f"{e.p50:>7.3f} {e.p95:>7.3f} {e.p99:>7.3f} {e.max:>7.3f} {r.exchange_to_ingest.p99:>13.3f}"
        )
    return 0 if all(r.verdict.valid for r in results) else 1


def run_bench(args: argparse.Namespace) -> int:
    from harness.bench import report, run

    try:
        plan = run.make_plan(args.quick, args.only, args.rate, args.duration, args.api_requests, args.profile)
    except run.BenchError as exc:
        _err(f"error: {exc}")
        return 2
    out = args.out or run.REPORTS
    began = time.time()
    try:
        result = run.run(plan, say=_err, out_dir=out, keep_stack=args.keep_stack, reuse=args.reuse)
    except KeyboardInterrupt:
        saved = out / run.JSON_NAME
        fresh = saved.exists() and saved.stat().st_mtime >= began
        _err(
            f"[bench] interrupted; the results so far are in {saved}"
            if fresh
            else "[bench] interrupted before anything was measured"
        )
        return 130
    print(json.dumps(result, indent=2) if args.json else report.table(result))
    return 1 if result["errors"] else 0


def _check_files(
    files: list[Path], load: Callable[[Path], object], describe: Callable[[Any], str], error: type[Exception]
) -> int:
    """Each file loaded and described, or its problems printed; 1 if any file has one."""
    bad = 0
    for path in files:
        try:
            found = load(path)
        except error as exc:
            bad += 1
            print(f"{path}: {exc}")
            continue
        print(f"{path}: ok: {describe(found)}")
    return 1 if bad else 0


def run_target_check(files: list[Path]) -> int:
    from harness.targets import DEFAULT, Target, TargetError

    def describe(t: Target) -> str:
        return (
            f"{t.name}, exchange {t.exchange}, topic {t.topic}, subject {t.subject} ({t.record}), table "
            f"{t.table} ({len(t.columns)} columns), API {t.api['trades']} with {t.api['key_header']}, "
            f"{len(t.symbols)} symbols"
        )

    return _check_files(files or [DEFAULT], Target.load, describe, TargetError)


def run_platform_check(files: list[Path]) -> int:
    from harness.stack.platform_file import PLACEHOLDERS, REFERENCE, PlatformFile, PlatformFileError

    def describe(p: PlatformFile) -> str:
        return p.name + "".join(
            f"\n  {role:<9} {' '.join(s.command)}  (ready: {s.ready.model_dump()}, budget {s.memory_budget_mb} MiB)"
            for role, s in p.services.items()
        )

    bad = _check_files(files or [REFERENCE], PlatformFile.load, describe, PlatformFileError)
    if bad:
        print("placeholders: " + ", ".join("{" + k + "}" for k in PLACEHOLDERS))
    return bad


def run_prove_defects(args: argparse.Namespace) -> int:
    import tempfile

    from harness import defects

    chosen = defects.select(defects.load_all(), args.only)
    if args.list:
        for d in chosen:
            print(f"{d.name:<32} breaks {d.breaks}; runs {' '.join(d.run)}")
        return 0
    settings = StackSettings.from_env()
    extra = [a for a in args.behave_args if a != "--"]
    with tempfile.TemporaryDirectory(prefix="k2-defects-") as work:
        outcomes = defects.prove(
            chosen, Path(work), lambda: LocalDriver(settings).down(purge=True), say=_err, behave_args=extra
        )
    report = defects.REPORTS / "defects.md"
    report.write_text(defects.matrix(outcomes))
    missed = [o.defect.name for o in outcomes if not o.caught]
    _err(
        f"[prove-defects] {len(outcomes) - len(missed)} of {len(outcomes)} caught; matrix in {report}"
        + (f"; MISSED: {', '.join(missed)}" if missed else "")
    )
    return 1 if missed else 0


def run_criteria(args: argparse.Namespace) -> int:
    from harness import criteria, criteria_report

    rows = criteria_report.build(args.results, args.latency, args.out, args.history, say=_err)
    _err(f"[report] {criteria.total_line(rows)}")
    print(f"[report] {criteria_report.shown(args.out)}")
    return 0


def run_scan_secrets(paths: list[Path]) -> int:
    from harness import leaks
    from harness.stack.compose import DEFAULT_COMPOSE_FILE, read_env_file
    from harness.stack.docker_setup import SECRET_NAMES

    settings = StackSettings.from_env()
    compose_env = Path(os.environ.get("K2_COMPOSE_FILE") or DEFAULT_COMPOSE_FILE).parent / ".env"
    if not settings.credentials_file.exists() and not compose_env.exists():
        _err(
            f"error: no secrets to look for: neither {settings.credentials_file} nor {compose_env} exists (start "
            "the stack once with `python -m harness stack up`, or run `make setup-docker`; or set K2_STACK_DIR)"
        )
        return 2
    roots = paths or [p for p in (REPO_ROOT / "reports", settings.logs) if p.exists()]
    missing = [str(r) for r in roots if not r.exists()]
    if missing or not roots:
        _err(f"error: nothing to scan at {', '.join(missing) or 'reports/ or the stack logs'}")
        return 2
    secrets: dict[str, str] = {}
    if settings.credentials_file.exists():
        secrets.update(leaks.secrets_of(settings.credentials_file))
    if compose_env.exists():  # the compose stack's, written by `make setup-docker`
        found_env = read_env_file(compose_env)
        secrets.update(
            {f"compose {n}": found_env[n] for n in SECRET_NAMES if len(found_env.get(n, "")) >= leaks.MIN_SECRET_LENGTH}
        )
    found = leaks.scan(roots, secrets, skip=[settings.credentials_file, compose_env])
    for leak in found:
        print(leak)
    files = sum(1 if r.is_file() else sum(1 for p in r.rglob("*") if p.is_file()) for r in roots)
    where = ", ".join(str(r) for r in roots)
    if found:
        _err(f"[secrets] {len(found)} leak(s) of {len(secrets)} secrets in {files} files under {where}")
        return 1
    _err(f"[secrets] none of the stack's {len(secrets)} secrets appears in {files} files under {where}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "setup":
            provision(StackSettings.from_env(), say=_err)
            return 0
        if args.command in ("setup-docker", "stop-docker"):
            from harness.stack import docker_setup

            if args.command == "stop-docker":
                _err(f"[docker] {docker_setup.DockerSetup(StackSettings.from_env(), say=_err).stop_engine()}")
                return 0
            docker_setup.setup(StackSettings.from_env(), say=_err, build=not args.no_build)
            return 0
        if args.command == "measure":
            return run_measure(args)
        if args.command == "bench":
            return run_bench(args)
        if args.command == "prove-defects":
            return run_prove_defects(args)
        if args.command == "scan-secrets":
            return run_scan_secrets(args.paths)
        if args.command == "criteria":
            return run_criteria(args)
        if args.command == "target":
            return run_target_check(args.files)
        if args.command == "platform":
            return run_platform_check(args.files)
        if args.command == "soak":
            from harness import soak

            if args.runs < 1:
                _err(f"error: --runs {args.runs} must be at least 1; e.g. --runs 10")
                return 2
            results = soak.run(args.runs, args.behave_args, say=_err)
            return 0 if all(r.passed for r in results) else 1
        return run_stack(args)
    except EXPECTED_ERRORS as exc:
        _err(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _err("interrupted; run `python -m harness stack down` to stop what was started")
        return 130
    except BrokenPipeError:  # `... stack status | head`: the reader left, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
