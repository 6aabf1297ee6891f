"""Commits batches to Iceberg together with the Kafka offsets they end at, or not at all."""

from __future__ import annotations

import logging
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


def append(table: Any, rows: pa.Table, snapshot_properties: dict[str, str]) -> None:
    """`table.append(rows)` in one commit, through the memoising transaction."""
    with _Transaction(table) as tx:
        tx.append(rows, snapshot_properties=snapshot_properties)


class StaleWriter(Exception):
    """Another writer committed these partitions since this batch began: drop it and re-seek."""


class IcebergWriter:
    def __init__(self, catalog: CatalogSettings, topic: str, identifier: TableId = DEFAULT_TABLE) -> None:
        self.topic = topic
        self.conflicts = 0
        """Commits that lost a race with another writer of the table (each re-checked, never written twice)."""
        self.catalog = catalog.load()
        self.table: Any = ensure_table(self.catalog, identifier)

    def committed(self) -> offsets.Offsets:
        """The offsets of the table as it is now in the catalog (not as this process last saw it)."""
        self.table = self.table.refresh()
        return offsets.latest(self.table.current_snapshot(), self.table.snapshot_by_id, OFFSETS_PROPERTY, self.topic)

    def commit(self, rows: pa.Table, base: dict[int, int | None], new: offsets.Offsets) -> offsets.Offsets:
        """Append `rows` in one snapshot whose offsets are the table's, moved to `new`.

        `base` is where each partition of the batch started. If the table moved any of them,
        the batch was (or will be) written by someone else: StaleWriter, nothing committed.
        A commit that loses a race fails (no silent retry, see TABLE_PROPERTIES) and is
        re-checked the same way. Returns the offsets now committed.
        """
        for _ in range(5):
            table_offsets = self.committed()
            stale = offsets.stale_partitions(table_offsets, base, new)
            if stale:
                raise StaleWriter(
                    f"partitions {stale} moved to {[table_offsets.get(p) for p in stale]} "
                    f"since this batch started at {[base.get(p) for p in stale]}"
                )
            merged = {**table_offsets, **new}
            try:
                append(self.table, rows, {OFFSETS_PROPERTY: offsets.encode(self.topic, merged)})
                return merged
            except CommitFailedException as exc:
                self.conflicts += 1
                log.warning("commit lost a race; re-checking offsets", extra={"error": str(exc)})
        raise CommitFailedException("commit kept losing races; giving up this attempt")

    def compact(self) -> compaction.Plan | None:
        """Rewrite the table's small files into one when there are enough of them (compaction.py).
        Returns what was rewritten, or None when nothing was due."""
        current = self.committed()  # also refreshes: the rewrite must build on the table as it is
        plan = compaction.choose(compaction.data_files(self.table))
        if plan is None:
            return None
        compaction.rewrite(self.table, plan, {OFFSETS_PROPERTY: offsets.encode(self.topic, current)}, _Transaction)
        return plan

    def expire(self, keep: int, slack: int = 20) -> int:
        """Drop the oldest snapshots from the table's metadata once there are `keep + slack`.

        Every commit copies the whole table metadata, so its cost grows with the number of
        snapshots: 100 ms for a new table, 700 ms at 300 snapshots, which is most of a trade's
        latency. Only metadata goes: every append's data files stay in the current snapshot.
        Returns how many snapshots were expired.
        """
        snapshots = sorted(self.table.metadata.snapshots, key=lambda s: s.timestamp_ms)
        if len(snapshots) < keep + slack:
            return 0
        current = self.table.current_snapshot()
        old = [
            s.snapshot_id
            for s in snapshots[: len(snapshots) - keep]
            if current is None or s.snapshot_id != current.snapshot_id
        ]
        ExpireSnapshots(transaction=_Transaction(self.table, autocommit=True)).by_ids(old).commit()
        return len(old)
