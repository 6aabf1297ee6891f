"""Steps about the stack itself: starting it, and what each service reports."""

from behave import given, then
from behave.runner import Context
from hamcrest import assert_that, greater_than, has_item

from harness.matchers import all_ready
from harness.probes import iceberg, object_store


@given("the infrastructure is started within {seconds:d} seconds")
def step_infra_started(context: Context, seconds: int) -> None:
    context.suite.ensure_stack("infra", within=context.suite.config.budget(seconds))


@then("these services are ready, each answering a real request:")
def step_services_ready(context: Context) -> None:
    statuses = [context.suite.driver.health(row["service"]) for row in context.table]
    assert_that(statuses, all_ready())


@then("the schema registry became ready only after the database that stores its schemas")
def step_registry_after_postgres(context: Context) -> None:
    services = context.suite.driver.status().services
    assert_that(services["schema-registry"].ready_at, greater_than(services["postgres"].ready_at))


@then("the object store holds the warehouse bucket")
def step_warehouse_bucket(context: Context) -> None:
    assert_that(object_store.buckets(context.suite.driver.clients()), has_item("warehouse"))


@then("the table catalog holds the market data namespace")
def step_market_data_namespace(context: Context) -> None:
    assert_that(iceberg.namespaces(context.suite.driver.clients()), has_item("market_data"))
