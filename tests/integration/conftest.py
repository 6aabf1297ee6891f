"""A stack of real services of the integration tests' own, in .stack-pytest on shifted ports,
so a developer's running stack (.stack) is never touched. Stopped and purged at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.stack.local import LocalDriver
from harness.stack.settings import REPO_ROOT
from tests.integration.stacks import own_stack

TEST_ENV = {
    "K2_STACK_DIR": os.environ.get("K2_TEST_STACK_DIR", str(REPO_ROOT / ".stack-pytest")),
    "K2_STACK_PORT_OFFSET": os.environ.get("K2_TEST_PORT_OFFSET", "100"),
}


@pytest.fixture(scope="session")
def test_env() -> dict[str, str]:
    return {**os.environ, **TEST_ENV}


@pytest.fixture(scope="session")
def stack(test_env: dict[str, str]) -> Iterator[LocalDriver]:
    with own_stack(test_env, "infra") as driver:
        yield driver


@pytest.fixture(scope="session")
def clients(stack: LocalDriver) -> dict[str, object]:
    return stack.clients()


@pytest.fixture(scope="session")
def stack_root(stack: LocalDriver) -> Path:
    return stack.settings.root
