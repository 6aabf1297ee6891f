"""Schemathesis against the query API's own OpenAPI document, on real services.

The document is fetched from the running API (`/openapi.json`), so every operation it lists is
exercised as served: generated requests (examples, coverage of boundaries and invalid values,
then random ones) with the valid key, over the stack and the filled table that test_api.py uses
(fixtures `api` and `table` of conftest.py). Seeded and derandomized: a failure found once is
found again on the next run. A second test checks the key on every /v1 route of the document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.probes.openapi import load
from harness.waiting import eventually
from tests.integration.api_service import AUTH, KEY, KEY_HEADER, Api

pytestmark = pytest.mark.integration

SEED = 20240301
# Random examples per operation, after the examples and coverage phases (which are bounded by the
# document, not by this). 8 operations x 40 (about 330 requests) take 20-30 s on two shared cores.
MAX_EXAMPLES = 40
# Not positive_data_acceptance: a schema-valid request may still be refused with 422 when its
# parameters contradict each other (start_time after end_time, CONTRACT.md §6), which OpenAPI
# cannot express.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def healthy(api: Api) -> bool:
    response = api.get("/health")
    return response.status_code == 200 and response.json()["status"] == "healthy"


@pytest.fixture
def api_schema(request: pytest.FixtureRequest, api: Api, table: Any) -> BaseSchema:
    # schemathesis 4.32.5's from_fixture reads and sets Node._nodeid, which pytest 9.2 no longer
    # has (the id lives in Node._id); give it the attribute, or the test dies before a request.
    request.node._nodeid = request.node.nodeid
    # test_api.py stops and restarts the object store and PostgreSQL just before; a 503 of the
    # recovery would be reported as a server error of the API
    eventually(lambda: healthy(api), within=30, describe="/health healthy before fuzzing")
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {KEY_HEADER: KEY},
            # database "none": no replay of examples an earlier run saved, so a run depends only on
            # the seed, the document and the data
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        }
    )
    return schemathesis.openapi.from_url(api.url + "/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_as_its_document_says(case: Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


def test_every_v1_route_of_the_document_wants_the_key(api: Api) -> None:
    document = load(api.url)
    operations = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
        for method in item
        if method in HTTP_METHODS
    ]
    assert operations, f"the document lists no /v1 route: {sorted(document['paths'])}"
    for method, template in operations:
        # auth comes before parameter validation, so any value fills a path parameter
        path = re.sub(r"\{[^}/]+\}", "1", template)
        # the control: with the right key the route does not refuse, so the refusals below are the key's
        allowed = api.request(method, path, AUTH)
        assert allowed.status_code not in (401, 403), f"{method} {path} refuses the right key: {allowed.text[:300]}"
        for sent, status, code in (({}, 401, "UNAUTHORIZED"), ({KEY_HEADER: KEY + "-wrong"}, 403, "FORBIDDEN")):
            response = api.request(method, path, sent)
            what = f"{method} {path} with {'a wrong key' if sent else 'no key'}"
            assert response.status_code == status, f"{what}: {response.status_code} {response.text[:300]}"
            if method == "HEAD":
                continue  # no body to look into
            body = response.json()
            assert body["success"] is False and "data" not in body, f"{what} served data: {response.text[:300]}"
            assert body["error"]["code"] == code, f"{what}: {body}"
