"""Is a schema the contract's record, field by field? Pure: schemas in, Verdict out.

Three stages publish a schema of the trade: the registry (Avro), the table (Iceberg columns) and
the query API (the OpenAPI document's Trade object). Each is compared with the contract's Avro
record as a list of differences a reader can act on ("field 15 vendor_data: missing"), never as
a bare "not equal". A schema that differs but stays BACKWARD compatible (an optional field
dropped) passes the registry's own compatibility rule; only this comparison sees it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.checks.verdict import EXAMPLES, Verdict

NO_DEFAULT = object()


def avro_type(t: Any) -> str:
    """An Avro type as one comparable line: logical types, precision, scale, enum symbols and
    nested items included ("bytes decimal(18,8)", "enum TradeSide[BUY,SELL]", "[null, long]")."""
    if isinstance(t, list):
        return "[" + ", ".join(avro_type(b) for b in t) + "]"
    if isinstance(t, str):
        return t
    if not isinstance(t, Mapping):
        return repr(t)
    kind = t.get("type")
    logical = t.get("logicalType")
    if logical == "decimal":
        return f"{kind} decimal({t.get('precision')},{t.get('scale', 0)})"
    if logical:
        return f"{kind} {logical}"
    if kind == "enum":
        return f"enum {t.get('name')}[{','.join(t.get('symbols', []))}]"
    if kind == "array":
        return f"array<{avro_type(t.get('items'))}>"
    if kind == "map":
        return f"map<{avro_type(t.get('values'))}>"
    if kind == "record":
        return f"record {t.get('name')}"
    if kind == "fixed":
        return f"fixed {t.get('name')}({t.get('size')})"
    return avro_type(kind)


def nullable(t: Any) -> bool:
    return isinstance(t, list) and "null" in t


def _describe(field: Mapping[str, Any]) -> str:
    default = field.get("default", NO_DEFAULT)
    return avro_type(field.get("type")) + ("" if default is NO_DEFAULT else f" default {default!r}")


def record_diff(
    what: str, contract: Mapping[str, Any], actual: Mapping[str, Any], allow_added_optional: bool = False
) -> Verdict:
    """`actual` (an Avro record schema) against the contract's record: full name, then each field
    in order by name, type (logical type, precision and scale), nullability and default. A field
    added at the end with a default is allowed only if `allow_added_optional`."""
    differences: list[str] = []
    want_name = f"{contract.get('namespace')}.{contract.get('name')}"
    got_name = f"{actual.get('namespace')}.{actual.get('name')}"
    if got_name != want_name:
        differences.append(f"record is {got_name} where {want_name}")
    want = list(contract.get("fields", []))
    got = list(actual.get("fields", []))
    got_by_name = {f.get("name"): (i, f) for i, f in enumerate(got, 1)}
    for i, w in enumerate(want, 1):
        name = w["name"]
        if name not in got_by_name:
            differences.append(f"field {i} {name}: missing (contract: {_describe(w)})")
            continue
        j, g = got_by_name[name]
        if j != i:
            differences.append(f"field {i} {name}: at position {j}")
        if avro_type(g.get("type")) != avro_type(w.get("type")):
            differences.append(f"field {i} {name}: type {avro_type(g.get('type'))} where {avro_type(w.get('type'))}")
        if g.get("default", NO_DEFAULT) != w.get("default", NO_DEFAULT):
            wd, gd = w.get("default", NO_DEFAULT), g.get("default", NO_DEFAULT)
            differences.append(
                f"field {i} {name}: {'no default' if gd is NO_DEFAULT else f'default {gd!r}'} "
                f"where {'no default' if wd is NO_DEFAULT else f'default {wd!r}'}"
            )
    known = {w["name"] for w in want}
    added = [(j, g) for j, g in enumerate(got, 1) if g.get("name") not in known]
    for j, g in added:
        optional = "default" in g
        if not (optional and allow_added_optional):
            why = "not in the contract" + (
                "; the profile allows no added optional field" if optional else ", and required"
            )
            differences.append(f"field {j} {g.get('name')}: {why} ({_describe(g)})")
    counts = {"contract fields": len(want), "fields": len(got), "differences": len(differences)}
    return Verdict(
        f"{what} is the contract's record", bool(want) and not differences, counts, mismatched=differences[:EXAMPLES]
    )


def columns_diff(what: str, expected: Mapping[str, str], actual: Mapping[str, str]) -> Verdict:
    """Columns (`name: type`, "!" for required) against the profile's, in order."""
    differences: list[str] = []
    got = list(actual.items())
    positions = {name: i for i, (name, _) in enumerate(got, 1)}
    for i, (name, kind) in enumerate(expected.items(), 1):
        if name not in actual:
            differences.append(f"column {i} {name}: missing (contract: {kind})")
            continue
        if positions[name] != i:
            differences.append(f"column {i} {name}: at position {positions[name]}")
        if actual[name] != kind:
            differences.append(f"column {i} {name}: {actual[name]} where {kind}")
    for j, (name, kind) in enumerate(got, 1):
        if name not in expected:
            differences.append(f"column {j} {name}: not in the contract ({kind})")
    counts = {"contract columns": len(expected), "columns": len(got), "differences": len(differences)}
    return Verdict(
        f"{what} has the contract's columns",
        bool(expected) and not differences,
        counts,
        mismatched=differences[:EXAMPLES],
    )


_JSON = {
    "null": "null",
    "boolean": "boolean",
    "int": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "string": "string",
    "bytes": "string",
    "fixed": "string",
    "enum": "string",
    "array": "array",
    "map": "object",
    "record": "object",
}


def json_types(avro: Any) -> set[str]:
    """The JSON types a served field of this Avro type may take: decimals and times are strings
    (the contract's fixed-point and ISO-8601 text), a nullable field may also be null."""
    if isinstance(avro, list):
        return set().union(*(json_types(b) for b in avro))
    if isinstance(avro, Mapping):
        if avro.get("logicalType"):
            return {"string"}
        kind = avro.get("type")
        if not isinstance(kind, str):
            return json_types(kind)
        return {_JSON.get(kind, "?")}
    return {_JSON.get(str(avro), "?")}


def _schema_types(schema: Mapping[str, Any]) -> set[str]:
    if "anyOf" in schema or "oneOf" in schema:
        return set().union(*(_schema_types(s) for s in schema.get("anyOf", schema.get("oneOf", []))))
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if isinstance(kind, str) else {"?"}


def published_diff(what: str, contract: Mapping[str, Any], trade: Mapping[str, Any]) -> Verdict:
    """The API's published Trade object (JSON Schema, refs resolved) against the contract's record:
    every field a property, in order, of the JSON type the contract implies, required, and
    nullable exactly where the contract's field is."""
    differences: list[str] = []
    properties: Mapping[str, Any] = trade.get("properties", {})
    required: Sequence[str] = trade.get("required", [])
    names = list(properties)
    fields = list(contract.get("fields", []))
    for i, f in enumerate(fields, 1):
        name = f["name"]
        if name not in properties:
            differences.append(f"property {i} {name}: missing")
            continue
        if names.index(name) + 1 != i:
            differences.append(f"property {i} {name}: at position {names.index(name) + 1}")
        want, got = json_types(f["type"]), _schema_types(properties[name])
        if got != want:
            differences.append(f"property {i} {name}: type {'|'.join(sorted(got))} where {'|'.join(sorted(want))}")
        if name not in required:
            differences.append(f"property {i} {name}: not required (a client could not count on it)")
    for name in names:
        if name not in {f["name"] for f in fields}:
            differences.append(f"property {name}: not in the contract")
    counts = {"contract fields": len(fields), "properties": len(names), "differences": len(differences)}
    return Verdict(
        f"{what} is the contract's record", bool(fields) and not differences, counts, mismatched=differences[:EXAMPLES]
    )
