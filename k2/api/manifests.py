"""Decoded Iceberg manifests, kept by path for the API's process.

Every query on a new snapshot plans its scan again, and pyiceberg 0.12 decodes every manifest
of the snapshot from Avro in pure Python each time: on a table of a few hundred small files
that was more than half of the API's CPU and most of a trade's iceberg -> API latency.
A manifest file is never rewritten in place (a new version is a new file at a new path, and
its entries' inherited sequence numbers come from the manifest list entry that names that
path), so the entries decoded from one path are the same every time they are read.

`install()` wraps `ManifestFile.fetch_manifest_entry` for this process only; the consumer,
which writes manifests, never installs it. Bounded by the number of entries held, least
recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from pyiceberg.manifest import ManifestEntry, ManifestFile

Fetch = Callable[[ManifestFile, Any, bool], list[ManifestEntry]]


class ManifestCache:
    def __init__(self, fetch: Fetch, max_entries: int) -> None:
        self._fetch = fetch
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._held: OrderedDict[tuple[str, bool], list[ManifestEntry]] = OrderedDict()
        self._count = 0
        self.hits = 0
        self.misses = 0

    def fetch(self, manifest: ManifestFile, io: Any, discard_deleted: bool = True) -> list[ManifestEntry]:
        key = (manifest.manifest_path, discard_deleted)
        with self._lock:
            found = self._held.get(key)
            if found is not None:
                self._held.move_to_end(key)
                self.hits += 1
                return list(found)  # a new list: callers may filter or extend theirs
            self.misses += 1
        entries = self._fetch(manifest, io, discard_deleted)
        if len(entries) <= self.max_entries:
            with self._lock:
                if key not in self._held:
                    self._held[key] = entries
                    self._count += len(entries)
                while self._count > self.max_entries and self._held:
                    _, evicted = self._held.popitem(last=False)
                    self._count -= len(evicted)
        return list(entries)

    def exposition(self) -> list[Metric]:
        """Its counters and size, as Prometheus metric families (read at scrape time)."""
        return [
            CounterMetricFamily("k2_api_manifest_cache_hits", "Manifest reads served from the cache.", value=self.hits),
            CounterMetricFamily("k2_api_manifest_cache_misses", "Manifest reads not in the cache.", value=self.misses),
            GaugeMetricFamily("k2_api_manifest_cache_entries", "Manifest entries the cache holds.", value=self._count),
        ]

    @property
    def entries(self) -> int:
        return self._count


_installed: ManifestCache | None = None


def install(max_entries: int) -> ManifestCache | None:
    """Route this process's manifest reads through one cache (once; max_entries=0 leaves them alone)."""
    global _installed
    if max_entries <= 0:
        return None
    if _installed is None:
        cache = ManifestCache(ManifestFile.fetch_manifest_entry, max_entries)

        def fetch_manifest_entry(self: ManifestFile, io: Any, discard_deleted: bool = True) -> list[ManifestEntry]:
            return cache.fetch(self, io, discard_deleted)

        ManifestFile.fetch_manifest_entry = fetch_manifest_entry  # type: ignore[method-assign]
        _installed = cache
    return _installed
