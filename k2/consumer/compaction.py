"""Rewriting the table's small data files into one, so reads stay fast as the table ages.

Every commit adds one small data file (a batch of a second or less). After one run of the
acceptance suite the table held 1,090 files for 77,000 rows, and every reader paid for them:
a query for a symbol's latest trades opened all of them, and the suite's own checks slowed from
about 5 to 10 minutes per run. Every `CHECK_EVERY` commits the consumer looks for files under
`SMALL_FILE_ROWS` rows and, when there are at least `MIN_FILES`, rewrites them into one
(sorted by trade time, so readers can skip it by its time bounds) in a single overwrite
snapshot: the same rows, each exactly once, swapped atomically. A file reaching
`SMALL_FILE_ROWS` is left alone from then on, so no rewrite reads more than that many rows.

A compaction comes in two halves, so that it never holds up a commit: `prepare` reads the small
files and writes their rows into one new file, on a thread of its own, from a table metadata it
was handed (nothing of the table changes); `swap` then replaces them in the table, on the
thread that commits, between two appends. The swap checks first that every file it deletes is
still live (another writer may have compacted it meanwhile) and carries the table's current
offsets, so the newest snapshot still says where the consumer is. Another writer's commit in
between makes the swap fail like any lost race: nothing changes, the new file stays unreferenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile, DataFileContent, ManifestContent
from pyiceberg.table.metadata import TableMetadata

SMALL_FILE_ROWS = 50_000
MIN_FILES = 16
MAX_FILES = 128
"""At most this many files per rewrite, so one rewrite of a long backlog stays a short pause."""
CHECK_EVERY = MIN_FILES
"""Commits between two looks at the table: each commit adds about one file."""


@dataclass(frozen=True)
class Plan:
    files: tuple[DataFile, ...]

    @property
    def rows(self) -> int:
        return sum(f.record_count for f in self.files)


@dataclass(frozen=True)
class Prepared:
    """A plan and the new data files that hold exactly its rows, written but not yet in the table."""

    plan: Plan
    new_files: tuple[DataFile, ...]


def choose(
    files: Sequence[DataFile], small_rows: int = SMALL_FILE_ROWS, min_files: int = MIN_FILES, max_files: int = MAX_FILES
) -> Plan | None:
    """The small data files worth rewriting (smallest first), or None when there are too few."""
    small = sorted(
        (f for f in files if f.content == DataFileContent.DATA and f.record_count < small_rows),
        key=lambda f: (f.record_count, f.file_path),
    )
    if len(small) < min_files:
        return None
    return Plan(tuple(small[:max_files]))


def data_files(metadata: TableMetadata, io: FileIO) -> list[DataFile]:
    """The live data files of the current snapshot of `metadata`."""
    snapshot = metadata.current_snapshot()
    if snapshot is None:
        return []
    return [
        entry.data_file
        for manifest in snapshot.manifests(io)
        if manifest.content == ManifestContent.DATA
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)
    ]


def prepare(metadata: TableMetadata, io: FileIO) -> Prepared | None:
    """Choose the small files of `metadata`'s current snapshot and write their rows, sorted by
    trade time, into one new file. None when too few are small."""
    plan = choose(data_files(metadata, io))
    if plan is None:
        return None

    def read(f: DataFile) -> pa.Table:
        with io.new_input(f.file_path).open() as stream:
            return pq.read_table(stream)

    with ThreadPoolExecutor(max_workers=8) as pool:  # small files: the object store's round trips dominate
        parts = list(pool.map(read, plan.files))
    rows = pa.concat_tables(parts, promote_options="default").sort_by("timestamp")
    if rows.num_rows != plan.rows:  # never swap files for anything but exactly their rows
        raise RuntimeError(
            f"compaction read {rows.num_rows} rows from {len(plan.files)} files whose manifests say {plan.rows}"
        )
    return Prepared(plan, tuple(_dataframe_to_data_files(metadata, rows, io)))


def swap(table: Any, prepared: Prepared, snapshot_properties: dict[str, str], transaction: Any) -> None:
    """Replace the plan's files by the prepared ones in one overwrite snapshot. `transaction`
    makes the transaction (the writer's own, see writer.py)."""
    with transaction(table) as tx, tx.update_snapshot(snapshot_properties=snapshot_properties).overwrite() as ow:
        for f in prepared.plan.files:
            ow.delete_data_file(f)
        for new in prepared.new_files:
            ow.append_data_file(new)
