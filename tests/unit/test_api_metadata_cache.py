"""Parsed table metadata kept by file location: a new commit is a new file, so it is never stale."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from k2.api.metadata_cache import MetadataCache, install
from k2.catalog import ensure_table
from k2.schemas.table import ARROW_SCHEMA
from tests.unit.test_api_queries import rows


class File:
    def __init__(self, location: str) -> None:
        self.location = location


def test_each_location_is_parsed_once_and_the_oldest_goes_first() -> None:
    parsed: list[str] = []

    def parse(input_file: Any) -> Any:
        parsed.append(input_file.location)
        return f"metadata of {input_file.location}"

    cache = MetadataCache(parse, max_entries=2)
    got: list[Any] = [cache.table_metadata(File(x)) for x in ("a", "a", "b", "a", "c", "b")]
    assert got == [
        "metadata of a",
        "metadata of a",
        "metadata of b",
        "metadata of a",
        "metadata of c",
        "metadata of b",  # b was the least recently used when c came: parsed again
    ]
    assert parsed == ["a", "b", "c", "b"]
    assert (cache.hits, cache.misses) == (2, 4)


def test_requests_that_miss_the_same_file_at_once_wait_for_one_parse() -> None:
    release, parsing = threading.Event(), threading.Event()
    parsed: list[str] = []

    def parse(input_file: Any) -> Any:
        parsed.append(input_file.location)
        parsing.set()
        assert release.wait(5)
        return f"metadata of {input_file.location}"

    cache = MetadataCache(parse)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(cache.table_metadata, File("new"))
        assert parsing.wait(5)
        others = [pool.submit(cache.table_metadata, File("new")) for _ in range(2)]
        release.set()
        got: list[Any] = [f.result(timeout=5) for f in (first, *others)]
    assert got == ["metadata of new"] * 3 and parsed == ["new"]
    assert (cache.hits, cache.misses) == (2, 1)


def test_a_parse_that_fails_fails_its_waiters_too_and_the_next_request_tries_again() -> None:
    calls: list[str] = []

    def parse(input_file: Any) -> Any:
        calls.append(input_file.location)
        if len(calls) == 1:
            raise OSError("object store unreachable")
        return "metadata"

    cache = MetadataCache(parse)
    with pytest.raises(OSError, match="unreachable"):
        cache.table_metadata(File("x"))
    again: Any = cache.table_metadata(File("x"))
    assert again == "metadata" and calls == ["x", "x"]


def test_on_a_real_catalog_a_commit_is_seen_at_once_and_repeats_are_not_parsed(tmp_path: Path) -> None:
    catalog = SqlCatalog("k2", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    table = ensure_table(catalog)
    table.append(pa.Table.from_pylist(rows()[:10], schema=ARROW_SCHEMA))
    cache = install()
    hits, misses = cache.hits, cache.misses
    first = catalog.load_table("market_data.trades")
    again = catalog.load_table("market_data.trades")
    assert first.metadata is again.metadata  # the same parsed object: one parse for both
    assert (cache.hits - hits, cache.misses - misses) == (1, 1)
    table.append(pa.Table.from_pylist(rows()[10:], schema=ARROW_SCHEMA))
    newer = catalog.load_table("market_data.trades")
    assert newer.metadata.current_snapshot_id != first.metadata.current_snapshot_id
    assert newer.scan().to_arrow().num_rows == 30
