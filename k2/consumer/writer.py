"""Commits batches to Iceberg together with the Kafka offsets they end at, or not at all."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import update_table_metadata
from pyiceberg.table.update.snapshot import ExpireSnapshots

from k2.catalog import CatalogSettings, ensure_table
from k2.consumer import compaction, offsets
from k2.names import DEFAULT_TABLE, TableId
from k2.schemas.table import OFFSETS_PROPERTY

log = logging.getLogger("k2.consumer.writer")


class _Transaction(Transaction):
    """pyiceberg's Transaction, with its metadata worked out once per change instead of once per read.

    pyiceberg 0.12 rebuilds and deep-copies the whole table metadata every time
    `Transaction.table_metadata` is read, and one append reads it 20 times: with 60 snapshots
    that was most of a commit's CPU. The rebuilt metadata depends only on the table's metadata and
    the updates staged so far (which only grow), and pyiceberg's models are frozen, so one copy
    per (metadata, number of updates) gives the same answer.
    """

    _memo_base: TableMetadata | None = None  # held, not just its id(): a freed object's id can be reused
    _memo_updates = -1
    _memo: TableMetadata | None = None

    @property
    def table_metadata(self) -> TableMetadata:
        base, staged = self._table.metadata, len(self._updates)
        if self._memo is None or self._memo_base is not base or self._memo_updates != staged:
            self._memo = update_table_metadata(base, self._updates)
            self._memo_base, self._memo_updates = base, staged
        return self._memo


def append(table: Any, rows: pa.Table, snapshot_properties: dict[str, str], expire: Sequence[int] = ()) -> None:
    """`table.append(rows)` in one commit, through the memoising transaction, dropping the
    snapshots `expire` in the same commit: one metadata file written instead of two."""
    with _Transaction(table) as tx:
        tx.append(rows, snapshot_properties=snapshot_properties)
        if expire:
            ExpireSnapshots(transaction=tx).by_ids(list(expire)).commit()


class StaleWriter(Exception):
    """Another writer committed these partitions since this batch began: drop it and re-seek."""


class IcebergWriter:
    def __init__(self, catalog: CatalogSettings, topic: str, identifier: TableId = DEFAULT_TABLE) -> None:
        self.topic = topic
        self.conflicts = 0
        """Commits that lost a race with another writer of the table (each re-checked, never written twice)."""
        self.expired = 0
        """Snapshots the last commit expired."""
        self.catalog = catalog.load()
        self.table: Any = ensure_table(self.catalog, identifier)

    def committed(self) -> offsets.Offsets:
        """The offsets of the table as it is now in the catalog (not as this process last saw it)."""
        self.table = self.table.refresh()
        return offsets.latest(self.table.current_snapshot(), self.table.snapshot_by_id, OFFSETS_PROPERTY, self.topic)

    def commit(
        self, rows: pa.Table, base: dict[int, int | None], new: offsets.Offsets, keep: int | None = None
    ) -> offsets.Offsets:
        """Append `rows` in one snapshot whose offsets are the table's, moved to `new`.

        `base` is where each partition of the batch started. If the table moved any of them,
        the batch was (or will be) written by someone else: StaleWriter, nothing committed.
        A commit that loses a race fails (no silent retry, see TABLE_PROPERTIES) and is
        re-checked the same way. With `keep`, the same commit expires the oldest snapshots
        once there are too many (`expirable`); `self.expired` says how many.
        Returns the offsets now committed.
        """
        self.expired = 0
        for _ in range(5):
            table_offsets = self.committed()
            stale = offsets.stale_partitions(table_offsets, base, new)
            if stale:
                raise StaleWriter(
                    f"partitions {stale} moved to {[table_offsets.get(p) for p in stale]} "
                    f"since this batch started at {[base.get(p) for p in stale]}"
                )
            merged = {**table_offsets, **new}
            old = expirable(self.table.metadata, keep) if keep is not None else []
            try:
                append(self.table, rows, {OFFSETS_PROPERTY: offsets.encode(self.topic, merged)}, old)
                self.expired = len(old)
                return merged
            except CommitFailedException as exc:
                self.conflicts += 1
                log.warning("commit lost a race; re-checking offsets", extra={"error": str(exc)})
        raise CommitFailedException("commit kept losing races; giving up this attempt")

    def prepare_compaction(self) -> compaction.Prepared | None:
        """The slow half of a compaction (compaction.py): choose the small files of the table as
        last seen and write their rows into one new file, without changing the table. Safe on
        a thread of its own while this writer commits: it reads only a metadata it holds."""
        return compaction.prepare(self.table.metadata, self.table.io)

    def swap(self, prepared: compaction.Prepared) -> bool:
        """The fast half: replace the prepared files by the new one in one overwrite snapshot,
        if every one of them is still live (another writer may have compacted them meanwhile:
        then nothing changes and False is returned; the new file is left unreferenced)."""
        current = self.committed()  # also refreshes: the swap must build on the table as it is
        live = {f.file_path for f in compaction.data_files(self.table.metadata, self.table.io)}
        if not all(f.file_path in live for f in prepared.plan.files):
            return False
        compaction.swap(self.table, prepared, {OFFSETS_PROPERTY: offsets.encode(self.topic, current)}, _Transaction)
        return True


def expirable(metadata: TableMetadata, keep: int, slack: int = 20) -> list[int]:
    """The oldest snapshots to drop from the table's metadata once there are `keep + slack`.

    Every commit copies the whole table metadata, so its cost grows with the number of
    snapshots: 100 ms for a new table, 700 ms at 300 snapshots, which is most of a trade's
    latency. Only metadata goes: every append's data files stay in the current snapshot.
    """
    snapshots = sorted(metadata.snapshots, key=lambda s: s.timestamp_ms)
    if len(snapshots) < keep + slack:
        return []
    current = metadata.current_snapshot_id
    return [s.snapshot_id for s in snapshots[: len(snapshots) - keep] if s.snapshot_id != current]
