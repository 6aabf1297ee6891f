"""behave hooks: forward to harness.session, where the logic lives (and is unit-tested)."""

from behave.runner import Context

from harness.session import SuiteSession


def before_all(context: Context) -> None:
    context.suite = SuiteSession.open(context.config.userdata)


def after_all(context: Context) -> None:
    context.suite.close()
