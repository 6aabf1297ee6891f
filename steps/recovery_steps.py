"""Steps about faults in the middle of a flow of trades, and how the pipeline comes back."""

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that, equal_to, less_than_or_equal_to, not_none

from harness import moments
from harness.report import attach_text
from steps import vocabulary  # noqa: F401 - registers the {service:Service} and {action:Action} types


@when("the {service:Service} {action:Action} once the first of them are in the table")
def step_fault_mid_stream(context: Context, service: str, action: str) -> None:
    context.suite.pipeline(context.endpoints).wait_first_committed(within=context.suite.config.budget(30))
    context.restarts_before = context.suite.driver.health(service).restarts
    _act(context, service, action)


def _act(context: Context, service: str, action: str) -> None:
    faults = context.suite.scenario.faults
    {
        "restarts": faults.restart,
        "crashes": faults.crash,
        "stops": faults.stop,
        "crashes and starts again": lambda s: (faults.crash(s), faults.heal_service(s)),
    }[action](service)


@when("the {service:Service} crashes")
def step_crash_now(context: Context, service: str) -> None:
    context.restarts_before = context.suite.driver.health(service).restarts
    context.suite.scenario.faults.crash(service)


@when("the {service:Service} {action:Action} the instant a new table snapshot appears")
def step_fault_at_snapshot(context: Context, service: str, action: str) -> None:
    context.restarts_before = context.suite.driver.health(service).restarts
    moment = moments.new_table_snapshot(context.endpoints, context.suite.target.table).begin()
    moments.when(moment, lambda: _act(context, service, action), within=context.suite.config.budget(30))


@when("the {service:Service} crashes with its link to the {link:Service} cut, the instant a new table snapshot appears")
def step_host_fails_at_snapshot(context: Context, service: str, link: str) -> None:
    """A crash as of a failed machine: the words the service had sent but that were still on their
    way (held by a slow link) are lost with it, as a SIGKILL alone would not lose them."""
    faults = context.suite.scenario.faults
    context.restarts_before = context.suite.driver.health(service).restarts
    moment = moments.new_table_snapshot(context.endpoints, context.suite.target.table).begin()
    moments.when(
        moment, lambda: (faults.partition(link), faults.crash(service)), within=context.suite.config.budget(30)
    )


@when("the {service:Service} {action:Action} the instant the consumer group's committed offsets move")
def step_fault_at_offsets(context: Context, service: str, action: str) -> None:
    target = context.suite.target
    context.restarts_before = context.suite.driver.health(service).restarts
    moment = moments.group_offsets_move(context.endpoints, target.consumer_group, target.topic).begin()
    moments.when(moment, lambda: _act(context, service, action), within=context.suite.config.budget(30))


@then("within {seconds:d} seconds the message log holds every trade")
def step_all_produced(context: Context, seconds: int) -> None:
    run = context.suite.pipeline(context.endpoints)
    assert_that(run.wait_produced(within=context.suite.config.budget(seconds)), equal_to(len(run.expected())))


@then("the table caught up within {seconds:d} seconds of the fault's end")
def step_caught_up(context: Context, seconds: int) -> None:
    run = context.suite.pipeline(context.endpoints)
    took = run.history.caught_up_after_heal("committed", list(run.expected()))
    attach_text("caught up", f"the table held every trade {took} s after the last heal")
    run.history.record("check", "caught up after the heal", seconds=took)
    assert_that(took, not_none())
    assert_that(took, less_than_or_equal_to(context.suite.config.budget(seconds)))


@given("the platform is running behind fault-injecting proxies within {seconds:d} seconds")
def step_faultable_platform(context: Context, seconds: int) -> None:
    context.endpoints = context.suite.ensure_stack("faultable", within=context.suite.config.budget(seconds)).endpoints


@when("the link to the {service:Service} is cut once the first of them are in the table")
def step_cut_mid_stream(context: Context, service: str) -> None:
    context.suite.pipeline(context.endpoints).wait_first_committed(within=context.suite.config.budget(30))
    context.suite.scenario.faults.partition(service)


@when("the link stays cut until the exchange has sent them all")
def step_cut_until_sent(context: Context) -> None:
    context.suite.pipeline(context.endpoints).all_emitted(within=context.suite.config.budget(60))


@when("the link to the {service:Service} is slowed by {ms:d} milliseconds")
def step_slow_link(context: Context, service: str, ms: int) -> None:
    context.suite.scenario.faults.delay(service, ms)


@when("the link to the {service:Service} recovers")
def step_link_recovers(context: Context, service: str) -> None:
    context.suite.scenario.faults.heal_link(service)
