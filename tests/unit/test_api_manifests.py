"""The API's cache of decoded manifests: same entries per path, bounded, least recently used out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k2.api.manifests import ManifestCache


@dataclass(frozen=True)
class Manifest:
    manifest_path: str


class Reader:
    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.reads: list[str] = []

    def __call__(self, manifest: Any, io: Any, discard_deleted: bool) -> list[Any]:
        self.reads.append(manifest.manifest_path)
        return [f"{manifest.manifest_path}#{i}" for i in range(self.sizes[manifest.manifest_path])]


def test_a_manifest_is_decoded_once_and_each_caller_gets_its_own_list() -> None:
    reader = Reader({"m1": 3})
    cache = ManifestCache(reader, max_entries=10)
    first: list[Any] = cache.fetch(Manifest("m1"), io=None)  # type: ignore[arg-type]
    first.append("changed by a caller")
    second = cache.fetch(Manifest("m1"), io=None)  # type: ignore[arg-type]
    assert second == ["m1#0", "m1#1", "m1#2"]
    assert reader.reads == ["m1"]
    assert (cache.hits, cache.misses, cache.entries) == (1, 1, 3)


def test_live_only_and_all_entries_are_kept_apart() -> None:
    reader = Reader({"m1": 2})
    cache = ManifestCache(reader, max_entries=10)
    cache.fetch(Manifest("m1"), None, True)  # type: ignore[arg-type]
    cache.fetch(Manifest("m1"), None, False)  # type: ignore[arg-type]
    assert reader.reads == ["m1", "m1"]


def test_the_least_recently_used_manifest_goes_first_when_over_the_bound() -> None:
    reader = Reader({"m1": 4, "m2": 4, "m3": 4})
    cache = ManifestCache(reader, max_entries=8)
    for path in ("m1", "m2", "m1", "m3"):  # m2 is then the least recently used
        cache.fetch(Manifest(path), None)  # type: ignore[arg-type]
    assert cache.entries == 8
    cache.fetch(Manifest("m1"), None)  # type: ignore[arg-type]
    cache.fetch(Manifest("m2"), None)  # type: ignore[arg-type]
    assert reader.reads == ["m1", "m2", "m3", "m2"]


def test_a_manifest_larger_than_the_bound_is_read_but_not_kept() -> None:
    reader = Reader({"big": 20})
    cache = ManifestCache(reader, max_entries=8)
    assert len(cache.fetch(Manifest("big"), None)) == 20  # type: ignore[arg-type]
    assert cache.entries == 0
