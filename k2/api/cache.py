"""Query results kept per Iceberg snapshot.

A snapshot never changes once committed, so the rows a filter selects from snapshot S are the
same every time: a result cached under (table uuid, snapshot id, columns, filter) can never be
stale. A new commit makes a new snapshot id, so the next request misses and reads afresh; the
API still reloads the table metadata on every request to learn the current snapshot id.

Bounded by the total number of cached rows and by the number of entries (empty results cost
no rows but still memory), least recently used out first; max_rows=0 disables it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import pyarrow as pa
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric


class SnapshotCache:
    def __init__(self, max_rows: int, max_entries: int = 256) -> None:
        self.max_rows = max_rows
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self._rows = 0
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], pa.Table]) -> pa.Table:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        # computed outside the lock: a slow scan must not block hits on other keys
        # (two requests missing the same key at once both scan; both results are equal)
        value = compute()
        if self.max_rows > 0 and value.num_rows <= self.max_rows:
            with self._lock:
                if key not in self._entries:
                    self._entries[key] = value
                    self._rows += value.num_rows
                while (self._rows > self.max_rows or len(self._entries) > self.max_entries) and self._entries:
                    _, evicted = self._entries.popitem(last=False)
                    self._rows -= evicted.num_rows
        return value

    def exposition(self) -> list[Metric]:
        """Its counters and size, as Prometheus metric families (read at scrape time)."""
        return [
            CounterMetricFamily("k2_api_cache_hits", "Query results served from the cache.", value=self.hits),
            CounterMetricFamily("k2_api_cache_misses", "Queries the cache could not answer.", value=self.misses),
            GaugeMetricFamily("k2_api_cache_rows", "Rows the cache holds.", value=self._rows),
            GaugeMetricFamily("k2_api_cache_entries", "Query results the cache holds.", value=len(self._entries)),
        ]

    @property
    def rows(self) -> int:
        return self._rows

    def __len__(self) -> int:
        return len(self._entries)
