"""k2.api.filecache: Iceberg's immutable files are read once per path, within a byte budget
(on local files through pyiceberg's own file IO; no object store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from k2.api import filecache
from k2.api.filecache import CachedInputFile, CachedReadsFileIO, FileCache


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[FileCache]:
    installed = FileCache(max_bytes=8 * 1024)
    monkeypatch.setattr(filecache, "_installed", installed)
    yield installed


def _write(path: Path, size: int) -> str:
    path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    return str(path)


def _read(location: str) -> bytes:
    with CachedReadsFileIO().new_input(location).open() as stream:
        return bytes(stream.read())


def test_a_file_is_read_once_and_then_served_from_memory(tmp_path: Path, cache: FileCache) -> None:
    location = _write(tmp_path / "a.parquet", 1000)
    first = _read(location)
    Path(location).unlink()  # gone from storage: only the cache can answer now
    assert _read(location) == first and len(first) == 1000
    assert (cache.hits, cache.misses, cache.bytes) == (1, 1, 1000)


def test_parquet_reads_through_it_with_projection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FileCache(max_bytes=2**20)
    monkeypatch.setattr(filecache, "_installed", cache)
    location = str(tmp_path / "t.parquet")
    pq.write_table(pa.table({"a": list(range(50)), "b": [str(i) for i in range(50)]}), location)
    for _ in range(2):
        with CachedReadsFileIO().new_input(location).open() as stream:
            assert pq.read_table(stream, columns=["a"]).column("a").to_pylist() == list(range(50))
    assert cache.hits == 1 and len(cache) == 1


def test_least_recently_used_go_first_within_the_budget(tmp_path: Path, cache: FileCache) -> None:
    locations = [_write(tmp_path / f"{i}.avro", 1024) for i in range(9)]  # 9 KiB, budget 8 KiB
    for location in locations:
        _read(location)
    assert len(cache) == 8 and cache.bytes == 8 * 1024
    assert cache.get(locations[0]) is None and cache.get(locations[8]) is not None


def test_a_big_file_is_read_in_ranges_and_not_kept(tmp_path: Path, cache: FileCache) -> None:
    location = _write(tmp_path / "big.parquet", cache.max_file_bytes + 1)
    assert len(_read(location)) == cache.max_file_bytes + 1
    assert len(cache) == 0


@pytest.mark.parametrize("name", ["version-hint.text", "notes.txt", "v1.json"])
def test_only_icebergs_immutable_kinds_are_kept(tmp_path: Path, cache: FileCache, name: str) -> None:
    location = _write(tmp_path / name, 100)
    assert not isinstance(CachedReadsFileIO().new_input(location), CachedInputFile)
    _read(location)
    assert len(cache) == 0


def test_not_installed_reads_straight_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filecache, "_installed", None)
    location = _write(tmp_path / "a.metadata.json", 100)
    assert not isinstance(CachedReadsFileIO().new_input(location), CachedInputFile)
    assert len(_read(location)) == 100
    assert filecache.install(0) is None
