"""Steps about trades flowing through the platform."""

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to

from harness import hostile
from harness.matchers import holds
from harness.probes import openapi
from harness.probes.api import answer_to
from harness.report import attach_text, attach_verdicts
from harness.scenario import compatibility_answers, published_schema, registered_schemas, table_schema


@given("the platform is running within {seconds:d} seconds")
def step_platform_running(context: Context, seconds: int) -> None:
    context.endpoints = context.suite.ensure_stack("full", within=context.suite.config.budget(seconds)).endpoints


@when("the exchange trades {a:d} {sa}, {b:d} {sb} and {c:d} {sc} at {rate:d} trades per second each")
def step_trade_three(context: Context, a: int, sa: str, b: int, sb: str, c: int, sc: str, rate: int) -> None:
    for count, symbol in ((a, sa), (b, sb), (c, sc)):
        context.suite.pipeline(context.endpoints).trade(symbol, count, rate)


@when("the exchange trades {count:d} {symbol} at {rate:d} trades per second")
def step_trade(context: Context, count: int, symbol: str, rate: int) -> None:
    context.suite.pipeline(context.endpoints).trade(symbol, count, rate)


@when("the suite watches the exchange's own trades of every symbol for {seconds:d} seconds")
def step_watch(context: Context, seconds: int) -> None:
    suite = context.suite
    suite.pipeline(context.endpoints).observe(suite.target.symbols, seconds, within=suite.config.budget(30))


@when(
    "the exchange trades {count:d} {symbol} at {rate:d} trades per second, with {per_kind:d} of each of these "
    "frames in between"
)
def step_hostile_frames(context: Context, count: int, symbol: str, rate: int, per_kind: int) -> None:
    planned = hostile.plan((row["frame"], row["outcome"]) for row in context.table)
    suite = context.suite
    context.hostile = hostile.HostileRun.begin(
        suite.pipeline(context.endpoints), suite.driver, suite.target, planned, evidence=suite.scenario.directory
    )
    context.hostile.send_between(symbol, count, rate, per_kind, within=context.suite.config.budget(30))


@given("the exchange has traded {count:d} {symbol}, all served within {seconds:d} seconds")
def step_traded_before(context: Context, count: int, symbol: str, seconds: int) -> None:
    context.suite.pipeline(context.endpoints).trade(symbol, count, 200)
    step_exactly_once(context, seconds)


@then(
    "within {seconds:d} seconds every trade is in the message log, the table and the query API exactly once, "
    "as the exchange sent it"
)
def step_exactly_once(context: Context, seconds: int) -> None:
    """Exactly once at every stage; then the served trades as sent (every field, as the contract's
    text) and read in pages of several sizes."""
    run = context.suite.pipeline(context.endpoints)
    verdicts = context.suite.with_causes(run.wait_exactly_once(within=context.suite.config.budget(seconds)))
    attach_verdicts(*verdicts)
    attach_text("history diff", run.history.stage_table(run.expected()))
    for verdict in verdicts:
        assert_that(verdict, holds())


@then(
    "within {seconds:d} seconds every served trade equals what the exchange sent, "
    "to the last decimal and microsecond, whatever the page size it is read with"
)
def step_fidelity(context: Context, seconds: int) -> None:
    run = context.suite.pipeline(context.endpoints)
    verdicts = context.suite.with_causes(run.wait_exactly_once(within=context.suite.config.budget(seconds)))
    attach_verdicts(*verdicts)
    for verdict in verdicts:
        assert_that(verdict, holds())


@then("every message in the message log names a schema the registry knows")
def step_registered_schemas(context: Context) -> None:
    assert_that(context.suite.pipeline(context.endpoints).wire_format(), holds())


@then("each schema the messages name, and the registry's latest, is the contract's trade record, field by field")
def step_named_schemas(context: Context) -> None:
    run = context.suite.pipeline(context.endpoints)
    verdicts = registered_schemas(context.endpoints, context.suite.target, run.named_schema_ids)
    attach_verdicts(*verdicts)
    for verdict in verdicts:
        assert_that(verdict, holds())


@then("the registry's latest trade schema is the contract's record, field by field")
def step_latest_schema(context: Context) -> None:
    verdict = registered_schemas(context.endpoints, context.suite.target)[0]
    attach_verdicts(verdict)
    assert_that(verdict, holds())


@then("the query API publishes the contract's trade record, field by field")
def step_published_schema(context: Context) -> None:
    assert_that(published_schema(context.endpoints, context.suite.target), holds())


@then("the registry keeps trade schemas backward compatible")
def step_backward(context: Context) -> None:
    assert_that(context.suite.pipeline(context.endpoints).compatibility(), equal_to(context.suite.target.compatibility))


@then(
    "within {seconds:d} seconds each of those frames is dead-lettered with a reason naming its problem, "
    "or deduplicated, as listed"
)
def step_hostile_outcomes(context: Context, seconds: int) -> None:
    verdict = context.hostile.wait_outcomes(within=context.suite.config.budget(seconds))
    attach_text("hostile frames per kind", context.hostile.table())
    assert_that(verdict, holds())


@then("the ingest service kept running on the same connection throughout")
def step_ingest_kept_running(context: Context) -> None:
    assert_that(context.hostile.kept_running(), holds())


@then("nothing but those trades reached the message log")
def step_only_expected(context: Context) -> None:
    assert_that(context.suite.pipeline(context.endpoints).only_expected_in_message_log(), holds())


@when("a client asks for trades {how}")
def step_ask(context: Context, how: str) -> None:
    api = context.endpoints.api
    names = context.suite.target.api
    context.answer = answer_to(api.url, api.api_key, how, header=names["key_header"], path=names["trades"])


@then("the query API answers {status:d}")
def step_answers(context: Context, status: int) -> None:
    answer = context.answer
    assert_that(
        answer.status_code,
        equal_to(status),
        f"the query API answered {answer.status_code} where {status} was expected; body: {answer.text[:200]}",
    )


@then("the registry would {verdict} a trade schema that adds {change}")
def step_registry_compatibility(context: Context, verdict: str, change: str) -> None:
    answers = compatibility_answers(context.endpoints, context.suite.target)
    assert_that(answers[change.removeprefix("an ").removeprefix("a ") + " added"], equal_to(verdict == "accept"))


@then("the trade table has exactly the contract's columns, types and required fields, in order")
def step_table_columns(context: Context) -> None:
    assert_that(table_schema(context.endpoints, context.suite.target), holds())


@then("every answer of the query API, good or bad, matches the API's own published description")
def step_openapi(context: Context) -> None:
    api = context.endpoints.api
    verdict = openapi.check_routes(
        api.url, api.api_key, context.suite.target.api["key_header"], openapi.requests_for(context.suite.target)
    )
    attach_verdicts(verdict)
    assert_that(verdict, holds())
