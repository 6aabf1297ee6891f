"""Which data files the consumer rewrites into one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from pyiceberg.manifest import DataFileContent

from k2.consumer.compaction import choose


@dataclass(frozen=True)
class File:
    file_path: str
    record_count: int
    content: DataFileContent = DataFileContent.DATA


def files(*counts: int) -> list[Any]:
    return [File(f"f{i:03}", n) for i, n in enumerate(counts)]


def test_too_few_small_files_are_left_alone() -> None:
    assert choose(cast(Any, files(10, 20, 30)), min_files=4) is None


def test_enough_small_files_are_rewritten_smallest_first_and_large_ones_never() -> None:
    plan = choose(cast(Any, files(500, 10, 60_000, 20, 30, 40)), small_rows=50_000, min_files=4, max_files=3)
    assert plan is not None
    assert [f.file_path for f in plan.files] == ["f001", "f003", "f004"]  # 10, 20, 30 rows
    assert plan.rows == 60


def test_delete_files_are_never_rewritten() -> None:
    deletes = [File(f"d{i}", 1, DataFileContent.POSITION_DELETES) for i in range(10)]
    assert choose(cast(Any, deletes), min_files=4) is None
