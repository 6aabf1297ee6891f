"""Parsed Iceberg table metadata, kept by file location for the API's process.

The API loads the table for every request, so a snapshot committed a moment ago is served at
once. With the SQL catalog that is a catalog lookup, a read of the current metadata file and
parsing its JSON (every snapshot the table keeps, with their summaries) into pyiceberg's
models, although the file is the same until the next commit: most requests parse a file they
parsed a moment before. A metadata file is never rewritten (a commit writes a new file at a
new location), so what was parsed from one location is what would be parsed again. The
lookup stays per request: whether a new snapshot exists is still asked every time.

Right after a commit every request polling the API misses at once (one per symbol a trader
watches); one of them parses the new file and the others wait for it, instead of all parsing it
side by side on the same cores: the spike of answer times after each commit.

`install()` wraps `FromInputFile.table_metadata` for this process only; the consumer, which
writes metadata, never installs it. A few entries suffice: only the newest versions are read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from pyiceberg.serializers import FromInputFile
from pyiceberg.table.metadata import TableMetadata

Parse = Callable[..., TableMetadata]
ENTRIES = 4


class MetadataCache:
    def __init__(self, parse: Parse, max_entries: int = ENTRIES) -> None:
        self._parse = parse
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._held: OrderedDict[str, TableMetadata] = OrderedDict()
        self._parsing: dict[str, Future[TableMetadata]] = {}
        self.hits = 0
        self.misses = 0

    def table_metadata(self, input_file: Any, *args: Any, **kwargs: Any) -> TableMetadata:
        location = str(input_file.location)
        with self._lock:
            found = self._held.get(location)
            if found is not None:
                self._held.move_to_end(location)
                self.hits += 1
                return found
            pending = self._parsing.get(location)
            if pending is None:
                self.misses += 1
                mine: Future[TableMetadata] = Future()
                self._parsing[location] = mine
            else:
                self.hits += 1
        if pending is not None:
            return pending.result()  # parsed by the request that missed first (or its error)
        try:
            parsed = self._parse(input_file, *args, **kwargs)
        except BaseException as exc:
            with self._lock:
                del self._parsing[location]
            mine.set_exception(exc)
            raise
        with self._lock:
            self._held[location] = parsed
            del self._parsing[location]
            while len(self._held) > self.max_entries:
                self._held.popitem(last=False)
        mine.set_result(parsed)
        return parsed

    def exposition(self) -> list[Metric]:
        return [
            CounterMetricFamily(
                "k2_api_metadata_cache_hits", "Table metadata files served parsed from the cache.", value=self.hits
            ),
            CounterMetricFamily(
                "k2_api_metadata_cache_misses", "Table metadata files read and parsed.", value=self.misses
            ),
        ]


_installed: MetadataCache | None = None


def install(max_entries: int = ENTRIES) -> MetadataCache:
    """Route this process's metadata parsing through one cache (once)."""
    global _installed
    if _installed is None:
        cache = MetadataCache(FromInputFile.table_metadata, max_entries)
        FromInputFile.table_metadata = staticmethod(cache.table_metadata)  # type: ignore[method-assign]
        _installed = cache
    return _installed
