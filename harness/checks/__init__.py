"""Pure checks over what the harness observed: each returns a Verdict with counts and examples."""

from harness.checks.verdict import Verdict, exactly_once, fields_equal, only_expected

__all__ = ["Verdict", "exactly_once", "fields_equal", "only_expected"]
