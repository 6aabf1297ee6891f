"""Bytes of Iceberg's files, kept by path for the API's process.

A client polling for fresh trades makes the API plan and read the newest snapshot again and
again: the same manifest list, the same few newest data files, each opened on the object store
(a HEAD, then ranged GETs) by both passes of every page (queries.py). Iceberg never rewrites a
file in place: a data file, manifest, manifest list or metadata file is written once at a new
path, and a change is a new file. So the bytes read from a path are the same every time, and
keeping them is safe; freshness is untouched, since which files make the current snapshot comes
from the catalog. On the bench stack one poll's two passes went from 110 + 198 ms to 55 + 73 ms.

Only those immutable kinds are kept, a file is kept only if it is at most an eighth of the
cache, and the least recently used go first. `install()` turns it on for this process (the API
only); `CachedReadsFileIO` reads through it, and straight through when it is not installed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, cast

import pyarrow as pa
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from pyiceberg.io import InputFile, InputStream

from k2.fileio import FewerRoundTripsFileIO

FILE_IO = "k2.api.filecache.CachedReadsFileIO"
IMMUTABLE = (".parquet", ".avro", ".metadata.json")


class FileCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_file_bytes = max_bytes // 8
        self._lock = threading.Lock()
        self._held: OrderedDict[str, bytes] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, location: str) -> bytes | None:
        with self._lock:
            found = self._held.get(location)
            if found is None:
                self.misses += 1
                return None
            self._held.move_to_end(location)
            self.hits += 1
            return found

    def put(self, location: str, data: bytes) -> None:
        if len(data) > self.max_file_bytes:
            return
        with self._lock:
            if location in self._held:
                return
            self._held[location] = data
            self.bytes += len(data)
            while self.bytes > self.max_bytes:
                _, evicted = self._held.popitem(last=False)
                self.bytes -= len(evicted)

    def __len__(self) -> int:
        return len(self._held)

    def exposition(self) -> list[Metric]:
        """Its counters and size, as Prometheus metric families (read at scrape time)."""
        return [
            CounterMetricFamily("k2_api_file_cache_hits", "Data file reads served from the cache.", value=self.hits),
            CounterMetricFamily("k2_api_file_cache_misses", "Data file reads not in the cache.", value=self.misses),
            GaugeMetricFamily("k2_api_file_cache_bytes", "Bytes the file cache holds.", value=self.bytes),
        ]


class CachedInputFile(InputFile):
    def __init__(self, inner: InputFile, cache: FileCache) -> None:
        super().__init__(inner.location)
        self._inner, self._cache = inner, cache

    def __len__(self) -> int:
        data = self._cache.get(self.location)
        return len(data) if data is not None else len(self._inner)

    def exists(self) -> bool:
        return self._cache.get(self.location) is not None or self._inner.exists()

    def open(self, seekable: bool = True) -> InputStream:
        data = self._cache.get(self.location)
        if data is not None:
            return cast(InputStream, pa.BufferReader(data))
        stream: Any = self._inner.open(seekable=True)  # on S3 the open learns the size (a HEAD)
        size = stream.size()
        if size > self._cache.max_file_bytes:
            return cast(InputStream, stream)  # too big to keep: read it in ranges, as before
        with stream:
            data = stream.read()
        if len(data) != size:  # never keep a short read
            raise OSError(f"read {len(data)} of {size} bytes of {self.location}")
        self._cache.put(self.location, data)
        return cast(InputStream, pa.BufferReader(data))


_installed: FileCache | None = None


def install(max_mb: int) -> FileCache | None:
    """Keep this process's reads of Iceberg files (once; max_mb=0 leaves them alone)."""
    global _installed
    if max_mb > 0 and _installed is None:
        _installed = FileCache(max_mb * 2**20)
    return _installed


class CachedReadsFileIO(FewerRoundTripsFileIO):
    # pyiceberg declares PyArrowFile here, but its readers use only the InputFile interface
    def new_input(self, location: str) -> InputFile:  # type: ignore[override]
        inner = super().new_input(location)
        if _installed is None or not location.endswith(IMMUTABLE):
            return inner
        return CachedInputFile(inner, _installed)
