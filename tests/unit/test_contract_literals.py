"""The suite reads every contract name from the target profile, so it can verify a K2 whose names
differ from ours. A contract name written into the suite's code would silently check ours."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.stack.settings import REPO_ROOT
from harness.targets import Target

# harness/stack/ starts our own platform (its topics, table, and the services' settings) and
# harness/bench/ measures it: both are about our deployment, not the one the profile names.
OURS = ("harness/targets.py", "harness/stack/", "harness/bench/")


def contract_names(target: Target) -> set[str]:
    namespace = target.table.rpartition(".")[0]
    api = {v for k, v in target.api.items() if isinstance(v, str) and k != "key_header"}
    return {
        target.topic,
        target.dead_letter_topic,
        target.consumer_group,
        target.subject,
        target.record,
        target.table,
        namespace,
        f"{target.exchange}-",
        target.api["key_header"],
        target.record.rpartition(".")[2],
        *api,
    }


def string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant of a module except docstrings (which may name an example)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_contract_name_is_written_into_the_suite() -> None:
    names = contract_names(Target.load())
    found = []
    for folder in ("harness", "steps"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            rel = path.relative_to(REPO_ROOT).as_posix()
            if rel.startswith(OURS):
                continue
            for line, text in string_literals(path):
                hits = sorted(n for n in names if n in text and not (n.startswith("/") and len(n) < 3))
                if hits:
                    found.append(f"{rel}:{line}: {text[:60]!r} holds {', '.join(hits)}")
    assert not found, "read these from the target profile instead:\n" + "\n".join(found)


def test_a_name_in_code_is_found_and_one_in_a_docstring_is_not(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Reads market_data.trades."""\n\n\ndef f() -> str:\n    """GET /v1/trades."""\n'
        '    return "market_data.trades"\n'
    )
    names = contract_names(Target.load())
    assert {"market_data", "market_data.trades", "/v1/trades", "BINANCE-", "X-API-Key"} <= names
    assert [(line, text) for line, text in string_literals(module) if any(n in text for n in names)] == [
        (6, "market_data.trades")
    ]
