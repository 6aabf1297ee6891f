"""Steps about the stack itself: starting it, and what each service reports."""

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, greater_than, has_item

from harness.matchers import all_ready
from harness.probes import api, iceberg, object_store
from harness.waiting import eventually

# How the features name services (business words) -> the stack's service names
SERVICE_WORDS = {"object store": "object-store", "database": "postgres", "message broker": "kafka",
                 "schema registry": "schema-registry", "query API": "api", "consumer": "consumer",
                 "ingest service": "ingest", "exchange": "exchange"}


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


@when("the {service_words} stops")
def step_service_stops(context: Context, service_words: str) -> None:
    service = SERVICE_WORDS[service_words]
    context.add_cleanup(context.suite.driver.start, service)  # the heal, even if a later step fails
    context.suite.driver.stop(service)


@when("the {service_words} starts again")
def step_service_starts(context: Context, service_words: str) -> None:
    assert_that(context.suite.driver.start(SERVICE_WORDS[service_words]).state, equal_to("ready"))


@then("within {seconds:d} seconds the query API reports itself unhealthy and not ready, while still alive")
def step_api_unhealthy(context: Context, seconds: int) -> None:
    expected = {"health": 503, "status": "unhealthy", "ready": 503, "live": 200}
    eventually(lambda: api.health(context.clients["api"]["url"]) == expected,
               within=context.suite.config.budget(seconds), describe=f"the API reports {expected}")


@then("within {seconds:d} seconds the query API reports itself healthy and ready")
def step_api_healthy(context: Context, seconds: int) -> None:
    expected = {"health": 200, "status": "healthy", "ready": 200, "live": 200}
    eventually(lambda: api.health(context.clients["api"]["url"]) == expected,
               within=context.suite.config.budget(seconds), describe=f"the API reports {expected}")
