"""Validating responses against an OpenAPI document: a small hand-written one, no network."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from harness.probes.openapi import KEY_PARAM, MISSING, WRONG, check_routes, violations

KEY = "unit-key"
ERROR = {"$ref": "#/components/responses/Error"}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tiny", "version": "1"},
    "paths": {
        "/v1/trades": {
            "get": {
                "responses": {
                    "200": {
                        "description": "trades",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TradesResponse"}}},
                    },
                    "401": ERROR,
                    "422": ERROR,
                }
            }
        },
        "/v1/items/{item_id}": {
            "get": {
                "responses": {
                    "204": {"description": "nothing to say"},
                    "default": ERROR,
                }
            }
        },
        "/metrics": {
            "get": {
                "responses": {
                    "200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}},
                }
            }
        },
    },
    "components": {
        "schemas": {
            "Trade": {
                "type": "object",
                "additionalProperties": False,
                "required": ["trade_id", "price"],
                "properties": {
                    "trade_id": {"type": "string"},
                    "price": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{8}$"},
                    "odd key": {"type": "integer"},
                },
            },
            "TradesResponse": {
                "type": "object",
                "required": ["success", "data"],
                "properties": {
                    "success": {"const": True},
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Trade"}},
                },
            },
            "Error": {
                "type": "object",
                "required": ["success", "error"],
                "properties": {"success": {"const": False}, "error": {"type": "string"}},
            },
        },
        "responses": {
            "Error": {
                "description": "an error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    },
}


def trades(n: int) -> dict[str, Any]:
    return {"success": True, "data": [{"trade_id": f"T-{i}", "price": f"{i}.00000001"} for i in range(n)]}


# ------------------------------------------------------------------ violations
def test_a_valid_body_passes() -> None:
    assert violations(SPEC, "GET", "/v1/trades", 200, trades(5)) == []


def test_a_wrong_type_is_reported_with_its_json_path() -> None:
    body = trades(5)
    body["data"][3]["price"] = 1.5
    assert violations(SPEC, "GET", "/v1/trades", 200, body) == [
        "GET /v1/trades 200: $.data[3].price: 1.5 is not of type 'string'"
    ]


def test_a_key_that_is_no_identifier_is_quoted_in_the_path() -> None:
    body = trades(1)
    body["data"][0]["odd key"] = "x"
    assert violations(SPEC, "GET", "/v1/trades", 200, body) == [
        "GET /v1/trades 200: $.data[0]['odd key']: 'x' is not of type 'integer'"
    ]


def test_a_missing_required_field_is_reported() -> None:
    body = trades(2)
    del body["data"][1]["price"]
    assert violations(SPEC, "GET", "/v1/trades", 200, body) == [
        "GET /v1/trades 200: $.data[1]: 'price' is a required property"
    ]


def test_an_undocumented_status_is_a_violation() -> None:
    assert violations(SPEC, "GET", "/v1/trades", 500, {"anything": 1}) == [
        "GET /v1/trades 500: status 500 is not documented (documented: 200, 401, 422)"
    ]


def test_an_undocumented_operation_is_a_violation() -> None:
    assert violations(SPEC, "GET", "/v2/nothing", 200, {}) == [
        "GET /v2/nothing 200: GET /v2/nothing is not in the document"
    ]
    assert violations(SPEC, "POST", "/v1/trades", 200, {}) == [
        "POST /v1/trades 200: POST /v1/trades is not in the document"
    ]


def test_refs_resolve_against_the_whole_document() -> None:
    # 422 is a $ref to components/responses, whose schema is a $ref to components/schemas
    assert violations(SPEC, "GET", "/v1/trades", 422, {"success": False, "error": "limit: too small"}) == []
    assert violations(SPEC, "GET", "/v1/trades", 422, {"success": True, "error": 7}) == [
        "GET /v1/trades 422: $.success: False was expected",
        "GET /v1/trades 422: $.error: 7 is not of type 'string'",
    ]
    # TradesResponse -> Trade, two refs deep
    assert violations(
        SPEC, "GET", "/v1/trades", 200, {"success": True, "data": [{"trade_id": "T", "price": "1", "extra": 1}]}
    ) == [
        "GET /v1/trades 200: $.data[0]: Additional properties are not allowed ('extra' was unexpected)",
        "GET /v1/trades 200: $.data[0].price: '1' does not match '^[0-9]+\\\\.[0-9]{8}$'",
    ]


def test_default_covers_the_codes_not_listed() -> None:
    assert violations(SPEC, "GET", "/v1/items/{item_id}", 404, {"success": False, "error": "no such item"}) == []
    assert violations(SPEC, "GET", "/v1/items/{item_id}", 404, {"detail": "Not Found"}) == [
        "GET /v1/items/{item_id} 404: $: 'success' is a required property",
        "GET /v1/items/{item_id} 404: $: 'error' is a required property",
    ]


def test_a_response_without_content_must_have_no_body() -> None:
    assert violations(SPEC, "GET", "/v1/items/{item_id}", 204, None) == []
    assert violations(SPEC, "GET", "/v1/items/{item_id}", 204, {"a": 1}) == [
        "GET /v1/items/{item_id} 204: the document declares no body, but one came"
    ]


def test_the_media_type_picks_the_schema() -> None:
    assert violations(SPEC, "GET", "/metrics", 200, "k2_up 1\n", media_type="text/plain") == []
    assert violations(SPEC, "GET", "/metrics", 200, {"up": 1}) == [
        "GET /metrics 200: media type application/json is not documented (documented: text/plain)"
    ]


def test_at_most_twenty_lines_each_one_bounded() -> None:
    body = {"success": True, "data": [{"trade_id": i, "price": "x" * 1000} for i in range(30)]}
    lines = violations(SPEC, "GET", "/v1/trades", 200, body)
    assert len(lines) == 20
    assert all(len(line) <= 300 + len("GET /v1/trades 200: ") for line in lines)


# ------------------------------------------------------------------ check_routes over a fake API
def fake_api(good: bool = True) -> httpx.MockTransport:
    """Answers like an API of SPEC would; `good=False` sends a trade without its price."""

    def handle(request: httpx.Request) -> httpx.Response:
        path, key = request.url.path, request.headers.get("X-API-Key")
        if path == "/openapi.json":
            return httpx.Response(200, json=SPEC)
        if path == "/metrics":
            return httpx.Response(200, text="k2_up 1\n", headers={"content-type": "text/plain; version=0.0.4"})
        if key is None:
            return httpx.Response(401, json={"success": False, "error": "missing key"})
        if key != KEY:
            return httpx.Response(403, json={"success": False, "error": "wrong key"})
        if path.startswith("/v1/items/"):
            return httpx.Response(204)
        if request.url.params.get("limit") == "0":
            return httpx.Response(422, json={"success": False, "error": "limit: too small"})
        body = trades(3)
        if not good:
            del body["data"][2]["price"]
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


def check(requests: list[tuple[str, dict[str, Any]]], good: bool = True) -> Any:
    return check_routes("http://api.test", KEY, "X-API-Key", requests, transport=fake_api(good))


def test_a_run_whose_responses_match_holds() -> None:
    verdict = check(
        [
            ("/v1/trades", {"limit": 3}),
            ("/v1/trades", {"limit": 0}),
            ("/v1/trades", {KEY_PARAM: MISSING}),
            ("/v1/items/7", {}),
            ("/metrics", {}),
        ]
    )
    assert verdict.valid, str(verdict)
    assert verdict.counts == {"requests": 5, "validated": 5, "violations": 0}
    assert verdict.check == "responses match the OpenAPI document"


def test_a_run_reports_each_violation_with_its_request() -> None:
    verdict = check([("/v1/trades", {"limit": 3}), ("/v1/trades", {KEY_PARAM: WRONG}), ("/nowhere", {})], good=False)
    assert not verdict.valid
    assert verdict.counts == {"requests": 3, "validated": 1, "violations": 3}
    assert verdict.mismatched == [
        "GET /v1/trades?limit=3 200: $.data[2]: 'price' is a required property",
        "GET /v1/trades 403: status 403 is not documented (documented: 200, 401, 422)",
        "GET /nowhere 200: path /nowhere is not in the document",
    ]


def test_an_empty_run_is_invalid() -> None:
    verdict = check([])
    assert not verdict.valid
    assert verdict.counts == {"requests": 0, "validated": 0, "violations": 0}


def test_a_run_that_validated_nothing_is_invalid() -> None:
    # every answer is an undocumented 403: nothing was checked against a schema
    verdict = check([("/v1/trades", {KEY_PARAM: WRONG})])
    assert not verdict.valid
    assert verdict.counts["validated"] == 0


def test_a_document_that_is_no_openapi_fails_loudly() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json={"swagger": "2.0"}))
    with pytest.raises(AssertionError, match=r"not an OpenAPI 3\.x document"):
        check_routes("http://api.test", KEY, "X-API-Key", [("/v1/trades", {})], transport=transport)


def test_an_unknown_key_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=KEY_PARAM):
        check([("/v1/trades", {KEY_PARAM: "sideways"})])
