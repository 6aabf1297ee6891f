"""A stack of real services of the integration tests' own, in .stack-pytest on shifted ports,
so a developer's running stack (.stack) is never touched. Stopped and purged at the end.

Also the query API on a stack of its own (.stack-api-it), shared by test_api.py and
test_api_fuzz.py: `api_stack`, `api` and `table`, see tests/integration/api_service.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.endpoints import Endpoints
from harness.stack.local import LocalDriver
from harness.stack.settings import REPO_ROOT
from tests.integration.api_service import Api, SharedApi
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
def endpoints(stack: LocalDriver) -> Endpoints:
    return stack.endpoints()


@pytest.fixture(scope="session")
def stack_root(stack: LocalDriver) -> Path:
    return stack.settings.root


# ------------------------------------------------------------------ the query API's stack
_SHARED_API = pytest.StashKey[SharedApi]()


@pytest.fixture(scope="session")
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedApi]:
    shared = SharedApi(tmp_path_factory.mktemp("api"))
    request.config.stash[_SHARED_API] = shared
    try:
        yield shared
    finally:
        shared.close()


# Function-scoped on purpose: they only look the parts up, and SharedApi may have been closed and
# restarted in between (see pytest_runtest_teardown), so nothing here may be cached by pytest.
@pytest.fixture
def api_stack(shared_api: SharedApi) -> LocalDriver:
    """The API's stack (infra profile, .stack-api-it, ports + 300)."""
    return shared_api.driver()


@pytest.fixture
def api(shared_api: SharedApi) -> Api:
    """`python -m k2.api` on api_stack, key api_service.KEY."""
    return shared_api.api()


@pytest.fixture
def table(shared_api: SharedApi) -> Any:
    """market_data.trades on api_stack, holding api_service.ALL in COMMITS commits."""
    return shared_api.table()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # A session fixture would keep the API's stack (Kafka and the registry included) running, idle,
    # through every later module; stop it once the next test does not need it.
    shared = item.config.stash.get(_SHARED_API, None)
    if shared is not None and shared.started and "shared_api" not in getattr(nextitem, "fixturenames", ()):
        shared.close()
