"""What the Iceberg catalog holds: namespaces, tables, rows, snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.endpoints import Endpoints


def catalog(endpoints: Endpoints) -> Any:
    from pyiceberg.catalog import load_catalog  # heavy: imported only when a probe runs

    c = endpoints.catalog
    return load_catalog(c.name, **c.properties)


def namespaces(endpoints: Endpoints) -> list[str]:
    return sorted(".".join(ns) for ns in catalog(endpoints).list_namespaces())


def rows(
    endpoints: Endpoints, table: str, columns: tuple[str, ...] = ("*",), row_filter: Any = None
) -> list[dict[str, Any]]:
    """The rows of the table (all, or those matching a pyiceberg filter expression, pushed down),
    read fresh from the catalog; empty if the table does not exist."""
    from pyiceberg.expressions import AlwaysTrue

    cat = catalog(endpoints)
    if not cat.table_exists(table):
        return []
    scan = cat.load_table(table).scan(
        row_filter=row_filter if row_filter is not None else AlwaysTrue(), selected_fields=columns
    )
    result: list[dict[str, Any]] = scan.to_arrow().to_pylist()
    return result


@dataclass(frozen=True)
class Commit:
    """One snapshot and the data files it added: its rows became visible at `timestamp_ms`."""

    snapshot_id: int
    timestamp_ms: int
    """The snapshot's own timestamp: the writer's clock as it built the snapshot, just before
    the catalog accepted it."""
    added_files: tuple[str, ...]


def table_or_none(endpoints: Endpoints, table: str) -> Any | None:
    cat = catalog(endpoints)
    return cat.load_table(table) if cat.table_exists(table) else None


def commits_since(table: Any, since_ms: int) -> list[Commit]:
    """The snapshots committed at or after `since_ms`, oldest first, each with the data files it
    ADDED. Only the manifests a snapshot wrote are read, and of them only entries the snapshot
    itself added: with manifest merging, a merged manifest also lists older files as EXISTING."""
    from pyiceberg.manifest import ManifestContent, ManifestEntryStatus

    out = []
    recent = [s for s in table.metadata.snapshots if s.timestamp_ms >= since_ms]
    for snap in sorted(recent, key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
        files = [
            entry.data_file.file_path
            for manifest in snap.manifests(table.io)
            if manifest.content == ManifestContent.DATA and manifest.added_snapshot_id == snap.snapshot_id
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snap.snapshot_id
        ]
        out.append(Commit(snap.snapshot_id, snap.timestamp_ms, tuple(files)))
    return out


def read_file(table: Any, path: str, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Some columns of one data file, read through the table's own FileIO (only those columns'
    pages are fetched)."""
    import pyarrow.parquet as pq

    with table.io.new_input(path).open() as f:
        rows: list[dict[str, Any]] = pq.read_table(f, columns=list(columns)).to_pylist()
    return rows
