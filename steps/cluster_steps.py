"""Steps about what only a cluster of brokers and consumers can do to trades."""

from behave import given, then, when
from behave.runner import Context
from hamcrest import assert_that

from harness import cluster
from harness.matchers import holds
from harness.report import attach_verdicts

CONSUMERS = {"first": "consumer-1", "second": "consumer-2"}
BROKERS = 3


@given("the clustered platform is running within {seconds:d} seconds")
def step_cluster_running(context: Context, seconds: int) -> None:
    context.endpoints = context.suite.ensure_stack("cluster", within=context.suite.config.budget(seconds)).endpoints


@given("the two consumers share the trades' partitions within {seconds:d} seconds")
@then("within {seconds:d} seconds the two consumers share the trades' partitions again")
def step_consumers_share(context: Context, seconds: int) -> None:
    both = list(CONSUMERS.values())
    verdict = cluster.eventually_shared(
        context.endpoints, context.suite.target.topic, both, both, within=context.suite.config.budget(seconds)
    )
    attach_verdicts(verdict)
    assert_that(verdict, holds())
    context.commits_before = cluster.commit_conflicts(context.endpoints, both)


@when("the broker that leads most of the trades' partitions crashes mid-stream")
def step_leader_crashes(context: Context) -> None:
    context.suite.pipeline(context.endpoints).under_way(0.3, within=context.suite.config.budget(30))
    context.crash = cluster.LeaderLost.crash(
        context.suite.scenario.faults, context.endpoints, context.suite.target.topic
    )


@when("the broker that leads most of the trades' partitions is cut off from the other two mid-stream")
def step_leader_cut_off(context: Context) -> None:
    context.suite.pipeline(context.endpoints).under_way(0.3, within=context.suite.config.budget(30))
    context.crash = cluster.LeaderLost.cut_off(
        context.suite.scenario.faults, context.endpoints, context.suite.target.topic
    )


@when("the network between the brokers recovers")
def step_brokers_reconnected(context: Context) -> None:
    context.suite.scenario.faults.heal_service(context.crash.broker)


@then("within {seconds:d} seconds every partition of the trades is on three brokers in sync again")
def step_in_sync_within(context: Context, seconds: int) -> None:
    verdict = cluster.eventually_in_sync(
        context.endpoints, context.suite.target.topic, BROKERS, within=context.suite.config.budget(seconds)
    )
    attach_verdicts(verdict)
    assert_that(verdict, holds())


@then("within {seconds:d} seconds every partition it led has a new leader")
def step_new_leaders(context: Context, seconds: int) -> None:
    verdict = context.crash.leadership_moved(
        context.endpoints, context.suite.target.topic, within=context.suite.config.budget(seconds)
    )
    attach_verdicts(verdict)
    assert_that(verdict, holds())


@then("once the crashed broker is back, every partition of the trades is on three brokers in sync again")
def step_back_in_sync(context: Context) -> None:
    context.suite.scenario.faults.heal_service(context.crash.broker)  # starting it waits for a full ISR
    verdict = cluster.in_sync(context.endpoints, context.suite.target.topic, BROKERS)
    attach_verdicts(verdict)
    assert_that(verdict, holds())


@when("the {which} consumer crashes mid-stream and stays down")
def step_consumer_down(context: Context, which: str) -> None:
    context.suite.pipeline(context.endpoints).under_way(0.3, within=context.suite.config.budget(30))
    context.suite.scenario.faults.crash_and_stay_down(CONSUMERS[which])


@then("within {seconds:d} seconds the {which} consumer owns every partition of the trades")
def step_one_owns_all(context: Context, seconds: int, which: str) -> None:
    verdict = cluster.eventually_shared(
        context.endpoints,
        context.suite.target.topic,
        list(CONSUMERS.values()),
        [CONSUMERS[which]],
        within=context.suite.config.budget(seconds),
    )
    attach_verdicts(verdict)
    assert_that(verdict, holds())


@when("the {which} consumer starts again")
def step_consumer_back(context: Context, which: str) -> None:
    context.suite.scenario.faults.heal_service(CONSUMERS[which])


@then("both consumers committed meanwhile, and the commit conflicts they met are reported")
def step_conflicts(context: Context) -> None:
    verdict = cluster.both_committed(context.endpoints, list(CONSUMERS.values()), context.commits_before)
    attach_verdicts(verdict)
    assert_that(verdict, holds())
