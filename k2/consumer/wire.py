"""Confluent's Avro wire format, read directly: the counterpart of k2/ingest/wire.py.

confluent-kafka's AvroDeserializer expands the reader schema again for every record
(`expand_schema`): 16 % of the consumer's CPU at 2,000 trades/s (py-spy). This decoder looks a
writer schema up in the registry once per id and then only decodes.

A `timestamp-micros` is read as the plain long it is on the wire (microseconds since the
epoch, which is what the table stores), not as a `datetime` that `to_row` would turn back into
that long: about a third of the decoding time. Every other logical type is decoded as usual.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro import parse_schema, schemaless_reader

from k2.ingest.wire import HEADER, MAGIC


class WireError(ValueError):
    """Not a record in the wire format (too short, or another magic byte)."""


def registry_lookup(registry: SchemaRegistryClient) -> Callable[[int], str | None]:
    """`lookup(id)`: the schema's text, None when the registry has no such id (the record is bad).

    Any other failure (registry unreachable, 5xx) is raised: the record is not at fault, so the
    caller retries instead of dead-lettering it.
    """

    def lookup(schema_id: int) -> str | None:
        try:
            return str(registry.get_schema(schema_id).schema_str)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise

    return lookup


class WireDecoder:
    def __init__(self, schema_text: Callable[[int], str | None]) -> None:
        """`schema_text(id)`: the registry's schema of that id, as Avro JSON text."""
        self._schema_text = schema_text
        self._schemas: dict[int, Any] = {}

    def __call__(self, value: bytes | None) -> dict[str, Any]:
        if value is None or len(value) < HEADER.size:
            raise WireError(f"{0 if value is None else len(value)} bytes: shorter than the wire format's header")
        magic, schema_id = HEADER.unpack_from(value)
        if magic != MAGIC:
            raise WireError(f"magic byte {magic}, not {MAGIC}: not Confluent's wire format")
        schema = self._schemas.get(schema_id)
        if schema is None:
            text = self._schema_text(schema_id)
            if not text:
                raise WireError(f"the registry has no schema text for id {schema_id}")
            schema = self._schemas[schema_id] = parse_schema(plain_micros(json.loads(text)))
        record = schemaless_reader(io.BytesIO(value[HEADER.size :]), schema, None)
        if not isinstance(record, dict):
            raise WireError(f"schema {schema_id} is not a record schema")
        return record


def plain_micros(schema: Any) -> Any:
    """The schema with every `timestamp-micros` long left a plain long (same bytes, same meaning)."""
    if isinstance(schema, list):
        return [plain_micros(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "long" and schema.get("logicalType") == "timestamp-micros":
        return {k: v for k, v in schema.items() if k != "logicalType"}
    return {k: plain_micros(v) if k in ("type", "fields", "items", "values") else v for k, v in schema.items()}
