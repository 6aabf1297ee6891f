"""Schema conformance: differences named field by field, never a bare "not equal"."""

from __future__ import annotations

import copy
import json
from typing import Any

from harness.checks.schema import avro_type, columns_diff, json_types, published_diff, record_diff
from harness.targets import Target

CONTRACT: dict[str, Any] = json.loads(Target.load().record_schema())


def fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = schema["fields"]
    return out


def test_the_contract_is_its_own_record() -> None:
    verdict = record_diff("the registry's latest", CONTRACT, copy.deepcopy(CONTRACT))
    assert verdict.valid and verdict.counts == {"contract fields": 15, "fields": 15, "differences": 0}


def test_an_optional_field_dropped_is_named_though_it_stays_backward_compatible() -> None:
    drifted = copy.deepcopy(CONTRACT)
    drifted["fields"] = [f for f in fields(drifted) if f["name"] != "platform_sequence"]
    verdict = record_diff("schema 3", CONTRACT, drifted)
    assert not verdict.valid
    assert "field 14 platform_sequence: missing (contract: [null, long] default None)" in verdict.mismatched
    assert "field 15 vendor_data: at position 14" in verdict.mismatched


def test_precision_scale_logical_type_and_defaults_are_compared() -> None:
    drifted = copy.deepcopy(CONTRACT)
    fields(drifted)[6]["type"]["scale"] = 6
    fields(drifted)[5]["type"] = {"type": "long", "logicalType": "timestamp-millis"}
    del fields(drifted)[11]["default"]
    verdict = record_diff("x", CONTRACT, drifted)
    assert verdict.mismatched == [
        "field 6 timestamp: type long timestamp-millis where long timestamp-micros",
        "field 7 price: type bytes decimal(18,6) where bytes decimal(18,8)",
        "field 12 source_sequence: no default where default None",
    ]


def test_an_added_optional_field_passes_only_when_the_profile_allows_it() -> None:
    added = copy.deepcopy(CONTRACT)
    fields(added).append({"name": "venue", "type": ["null", "string"], "default": None})
    assert record_diff("x", CONTRACT, added, allow_added_optional=True).valid
    refused = record_diff("x", CONTRACT, added)
    assert refused.mismatched == [
        "field 16 venue: not in the contract; the profile allows no added optional field ([null, string] default None)"
    ]
    fields(added)[-1] = {"name": "venue", "type": "string"}
    assert not record_diff("x", CONTRACT, added, allow_added_optional=True).valid


def test_another_record_name_is_a_difference() -> None:
    other = {**copy.deepcopy(CONTRACT), "name": "Trade"}
    assert record_diff("x", CONTRACT, other).mismatched == [
        "record is com.k2.marketdata.Trade where com.k2.marketdata.TradeV2"
    ]


def test_nothing_to_compare_is_a_failure() -> None:
    assert not record_diff("x", {"fields": []}, {"fields": []}).valid
    assert not columns_diff("t", {}, {}).valid


def test_avro_types_read_as_one_line() -> None:
    assert avro_type({"type": "enum", "name": "TradeSide", "symbols": ["BUY", "SELL"]}) == "enum TradeSide[BUY,SELL]"
    assert avro_type(["null", {"type": "map", "values": "string"}]) == "[null, map<string>]"
    assert avro_type({"type": "array", "items": "string"}) == "array<string>"


def test_columns_are_compared_in_order_with_types_and_required() -> None:
    want = {"trade_id": "string!", "price": "decimal(18,8)!", "vendor_data": "string"}
    got = {"price": "decimal(18,6)!", "trade_id": "string!", "extra": "long"}
    assert columns_diff("the table", want, got).mismatched == [
        "column 1 trade_id: at position 2",
        "column 2 price: at position 1",
        "column 2 price: decimal(18,6)! where decimal(18,8)!",
        "column 3 vendor_data: missing (contract: string)",
        "column 3 extra: not in the contract (long)",
    ]


def trade_object() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in fields(CONTRACT):
        types = sorted(json_types(f["type"]))
        props[f["name"]] = {"type": types[0]} if len(types) == 1 else {"anyOf": [{"type": t} for t in types]}
    return {"type": "object", "properties": props, "required": list(props)}


def test_the_published_trade_follows_the_contract() -> None:
    assert json_types(fields(CONTRACT)[6]["type"]) == {"string"}  # decimals are served as text
    assert json_types(fields(CONTRACT)[11]["type"]) == {"integer", "null"}
    assert published_diff("the API's trade", CONTRACT, trade_object()).valid


def test_a_published_price_as_a_number_or_a_missing_field_is_named() -> None:
    published = trade_object()
    published["properties"]["price"] = {"type": "number"}
    del published["properties"]["vendor_data"]
    published["required"].remove("side")
    verdict = published_diff("the API's trade", CONTRACT, published)
    assert verdict.mismatched == [
        "property 7 price: type number where string",
        "property 10 side: not required (a client could not count on it)",
        "property 15 vendor_data: missing",
    ]
