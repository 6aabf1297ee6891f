"""Steps about what the real exchange does besides sending clean trades."""

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, greater_than_or_equal_to

from harness.checks.gaps import unfillable_reported
from harness.hostile import counter_names
from harness.live_trades import LiveWatch
from harness.matchers import holds
from harness.probes import ingest
from harness.report import attach_verdicts


@given("the exchange's trade history keeps only the newest {count:d} trades of each symbol")
def step_history_limited(context: Context, count: int) -> None:
    context.suite.pipeline(context.endpoints).limit_history(count)


@when(
    "the exchange's feed stalls while it trades {count:d} {symbol} at {rate:d} trades per second, "
    "then drops the connection"
)
def step_stall_and_drop(context: Context, count: int, symbol: str, rate: int) -> None:
    run = context.suite.pipeline(context.endpoints)
    context.stalled = run.stall_trade_and_drop(symbol, count, rate, within=context.suite.config.budget(30))
    context.left_out = run.left_out_by_history(context.stalled)


@then("the ingest reports the {count:d} trades it could not fill, as one range of ids")
def step_unfillable_reported(context: Context, count: int) -> None:
    gap = context.left_out
    assert gap is not None, f"the history keeps all {context.stalled.count} trades: no gap to report"
    reported = ingest.unfilled(context.endpoints.status_url("ingest"), context.suite.target.ingest.get("unfilled"))
    verdict = unfillable_reported(gap.symbol, gap.first_id, gap.last_id, reported)
    attach_verdicts(verdict)
    assert_that(gap.count, equal_to(count), "the trades the history no longer serves, by the scenario's numbers")
    assert_that(verdict, holds())


@given("the exchange closes every connection after {seconds:d} seconds")
def step_lifetime(context: Context, seconds: int) -> None:
    context.suite.pipeline(context.endpoints).shorten_lifetime(seconds)
    context.connects_before = ingest.counters(
        context.endpoints.status_url("ingest"), counter_names(context.suite.target)
    )["connections"]


@then("the ingest connected to the exchange at least {count:d} more times meanwhile")
def step_reconnected(context: Context, count: int) -> None:
    now = ingest.counters(context.endpoints.status_url("ingest"), counter_names(context.suite.target))["connections"]
    assert_that(
        now - context.connects_before,
        greater_than_or_equal_to(count),
        "connections the ingest made while the exchange closed them at their lifetime",
    )


@given(
    "the exchange refuses its trade history as too many requests for the next {seconds:d} seconds, "
    "asking to wait {retry:d} seconds between tries"
)
def step_history_refused(context: Context, seconds: int, retry: int) -> None:
    context.refusals_before = context.suite.pipeline(context.endpoints).refuse_history(seconds, retry)


@when(
    "once the ingest is connected again, the exchange goes on to trade {count:d} {symbol} live "
    "at {rate:d} trades per second"
)
def step_live_trades(context: Context, count: int, symbol: str, rate: int) -> None:
    run = context.suite.pipeline(context.endpoints)
    run.reconnected(within=context.suite.config.budget(30))
    context.live = LiveWatch.trade(run, symbol, count, rate)
    context.add_cleanup(context.live.close)


@then(
    "each of those live trades reaches the query API within {seconds:d} seconds, "
    "before the exchange serves its trade history again"
)
def step_live_in_time(context: Context, seconds: int) -> None:
    verdict = context.live.in_time(seconds, within=context.suite.config.budget(60))
    attach_verdicts(verdict)
    assert_that(verdict, holds())


@then("the exchange never had to ban the ingest for asking too often")
def step_never_banned(context: Context) -> None:
    verdict = context.suite.pipeline(context.endpoints).never_banned(context.refusals_before)
    attach_verdicts(verdict)
    assert_that(verdict, holds())
