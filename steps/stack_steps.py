"""Steps about the stack itself: starting it, and what each service reports."""

import time

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, greater_than, has_item, less_than_or_equal_to

from harness.checks.resources import within_budgets, within_limits
from harness.matchers import all_ready, holds
from harness.probes import api, iceberg, object_store
from harness.report import attach_text
from harness.usage import MemoryWatch, budget_table, engine_limits, limits_table, since
from harness.waiting import eventually
from steps import vocabulary  # noqa: F401 - registers the {service:Service} type


@given("the infrastructure is started within {seconds:d} seconds")
def step_infra_started(context: Context, seconds: int) -> None:
    context.suite.ensure_stack("infra", within=context.suite.config.budget(seconds))


@then("these services are ready, each answering a real request:")
def step_services_ready(context: Context) -> None:
    statuses = [context.suite.driver.health(row["service"]) for row in context.table]
    assert_that(statuses, all_ready())


@then("the schema registry became ready only after the database that stores its schemas")
def step_registry_after_postgres(context: Context) -> None:
    services = context.suite.driver.status(resources=False).services
    assert_that(services["schema-registry"].ready_at, greater_than(services["postgres"].ready_at))


@then("the object store holds the warehouse bucket")
def step_warehouse_bucket(context: Context) -> None:
    assert_that(object_store.buckets(context.suite.driver.endpoints()), has_item("warehouse"))


@then("the table catalog holds the market data namespace")
def step_market_data_namespace(context: Context) -> None:
    namespace = context.suite.target.table.rpartition(".")[0]
    assert_that(iceberg.namespaces(context.suite.driver.endpoints()), has_item(namespace))


@when("the {service:Service} stops")
def step_service_stops(context: Context, service: str) -> None:
    context.suite.scenario.faults.stop(service)


@when("the {service:Service} starts again")
def step_service_starts(context: Context, service: str) -> None:
    context.suite.scenario.faults.heal_service(service)
    assert_that(context.suite.driver.health(service).state, equal_to("ready"))


@when("the {service:Service} restarts while the exchange trades {count:d} {symbol} at {rate:d} trades per second")
def step_restart_during_flow(context: Context, service: str, count: int, symbol: str, rate: int) -> None:
    context.suite.pipeline(context.endpoints).trade(symbol, count, rate)
    context.suite.scenario.faults.restart(service)


@when("the {service:Service} crashes while the exchange trades {count:d} {symbol} at {rate:d} trades per second")
def step_crash_during_flow(context: Context, service: str, count: int, symbol: str, rate: int) -> None:
    context.restarts_before = context.suite.driver.health(service).restarts
    context.suite.pipeline(context.endpoints).trade(symbol, count, rate)
    context.suite.scenario.faults.crash(service)


@then("within {seconds:d} seconds the stack's supervisor has started the {service:Service} again")
def step_supervisor_restarted(context: Context, seconds: int, service: str) -> None:
    eventually(
        lambda: (s := context.suite.driver.health(service)).ready and s.restarts > context.restarts_before,
        within=context.suite.config.budget(seconds),
        describe=f"{service} restarted by the supervisor and ready",
    )


@then("within {seconds:d} seconds every service of the stack is ready")
def step_stack_ready(context: Context, seconds: int) -> None:
    eventually(
        lambda: context.suite.driver.status(resources=False).ready,
        within=context.suite.config.budget(seconds),
        describe="every service of the stack ready",
    )
    assert_that(list(context.suite.driver.status(resources=False).services.values()), all_ready())


@when("the whole stack stops")
def step_stack_stops(context: Context) -> None:
    context.suite.scenario.faults.stop_stack()


@then("within {seconds:d} seconds no process of the stack is left and none of its ports is taken")
def step_nothing_left(context: Context, seconds: int) -> None:
    eventually(
        lambda: context.suite.driver.leftovers() == [],
        within=context.suite.config.budget(seconds),
        describe="no process or port of the stack left",
    )


@when("the whole stack starts again within {seconds:d} seconds")
def step_stack_starts(context: Context, seconds: int) -> None:
    t0 = time.monotonic()
    context.suite.scenario.faults.heal("stack stopped")
    assert_that(time.monotonic() - t0, less_than_or_equal_to(context.suite.config.budget(seconds)))


@when(
    "the exchange trades {count:d} {symbol} at {rate:d} trades per second while the memory of every service is sampled"
)
def step_trade_watching_memory(context: Context, count: int, symbol: str, rate: int) -> None:
    services = list(context.suite.driver.status(resources=False).services)
    context.memory = MemoryWatch(context.suite.driver, services).start()
    context.add_cleanup(context.memory.stop)
    context.suite.pipeline(context.endpoints).trade(symbol, count, rate)


@then("no service used more memory than its budget")
def step_memory_budgets(context: Context) -> None:
    peaks, budgets = context.memory.stop(), context.suite.driver.memory_budgets()
    attach_text("memory peaks", budget_table(peaks, budgets))
    context.suite.scenario.history.record("check", "memory peaks MiB", **{n: round(p) for n, p in peaks.items()})
    assert_that(within_budgets(peaks, budgets, context.memory.services), holds())


@then("within {seconds:d} seconds the query API reports itself unhealthy and not ready, while still alive")
def step_api_unhealthy(context: Context, seconds: int) -> None:
    expected = api.health_expected(context.suite.target.api, healthy=False)
    paths = api.HealthPaths.of(context.suite.target.api)
    eventually(
        lambda: api.health_is(context.endpoints.api.url, expected, paths),
        within=context.suite.config.budget(seconds),
        describe=f"the API reports {expected}",
    )


@then("within {seconds:d} seconds the query API reports itself healthy and ready")
def step_api_healthy(context: Context, seconds: int) -> None:
    expected = api.health_expected(context.suite.target.api, healthy=True)
    paths = api.HealthPaths.of(context.suite.target.api)
    eventually(
        lambda: api.health_is(context.endpoints.api.url, expected, paths),
        within=context.suite.config.budget(seconds),
        describe=f"the API reports {expected}",
    )


@given("every service runs under memory and CPU limits that its container engine enforces")
def step_engine_enforces_limits(context: Context) -> None:
    services = list(context.suite.driver.status(resources=False).services)
    context.limits_before = engine_limits(context.suite.driver, services)
    if context.limits_before is None:
        context.scenario.skip(
            "this driver runs the services as native processes, under no engine that enforces "
            "limits; their memory budgets are checked by sampling in the memory scenario"
        )


@then("the engine held every service to a memory limit equal to its budget and to a CPU limit, killing none")
def step_engine_held_limits(context: Context) -> None:
    after = engine_limits(context.suite.driver, list(context.limits_before))
    assert after is not None
    attach_text(
        "engine limits, peaks and CPU throttling",
        limits_table(since(context.limits_before, after), context.memory.stop()),
    )
    assert_that(within_limits(after, context.suite.driver.memory_budgets()), holds())
