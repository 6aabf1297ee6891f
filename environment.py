"""behave hooks: forward to harness.session, where the logic lives (and is unit-tested)."""

from behave.model import Feature, Scenario, Status
from behave.runner import Context

from harness.session import SuiteSession


def before_all(context: Context) -> None:
    context.suite = SuiteSession.open(context.config.userdata)


def before_scenario(context: Context, scenario: Scenario) -> None:
    row = context.active_outline  # behave's documented attribute: the Examples row this scenario runs, or None
    reason = context.suite.config.skip_reason(
        dict(zip(row.headings, row.cells, strict=True)) if row else {}
    ) or context.suite.cannot_run(scenario.effective_tags)
    if reason:
        context.suite.say(f"[suite] skipped: {scenario.name}: {reason}")
        scenario.skip(reason)
        return
    context.suite.begin_scenario(scenario.feature.name, scenario.name)


def after_scenario(context: Context, scenario: Scenario) -> None:
    context.suite.end_scenario(failed=scenario.status == Status.failed)


def after_feature(context: Context, feature: Feature) -> None:
    context.suite.end_feature()


def after_all(context: Context) -> None:
    suite = getattr(context, "suite", None)  # absent when before_all stopped on bad configuration
    if suite is not None:
        suite.close()
