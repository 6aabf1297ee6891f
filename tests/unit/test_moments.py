"""Aimed faults: a moment is a change of something observable, and the act follows it at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.moments import Moment, when
from harness.waiting import ConditionTimeout


def test_a_moment_is_reached_when_the_observable_changes_from_its_baseline() -> None:
    values = iter([7, 7, 7, 8])
    moment = Moment("a new snapshot", lambda: next(values)).begin()
    assert moment.reached() is None
    assert moment.reached() is None
    assert moment.reached() == 8


def test_the_act_follows_the_moment_and_not_before() -> None:
    values = iter([None, None, 1])
    acted: list[object] = []
    moment = Moment("the first snapshot", lambda: next(values)).begin()
    assert when(moment, lambda: acted.append("crash"), within=5) == 1
    assert acted == ["crash"]


def test_a_moment_that_never_comes_names_itself_and_nothing_is_done() -> None:
    acted: list[object] = []
    moment = Moment("the committed offsets of group g move", lambda: ((0, 5),)).begin()
    with pytest.raises(ConditionTimeout, match="the committed offsets of group g move"):
        when(moment, lambda: acted.append("crash"), within=0.1)
    assert acted == []


def test_no_step_module_imports_another() -> None:
    """Shared logic lives in harness; a step module importing another would hide it in steps."""
    steps = Path(__file__).resolve().parents[2] / "steps"
    modules = {p.stem for p in steps.glob("*_steps.py")}
    offenders = []
    for path in steps.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.module == "steps":
                names = [f"steps.{a.name}" for a in node.names]
            offenders += [f"{path.name} imports {n}" for n in names if n.split(".")[-1] in modules]
    assert modules and not offenders, offenders
