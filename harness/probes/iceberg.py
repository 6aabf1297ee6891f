"""What the Iceberg catalog holds: namespaces, tables, rows, snapshots."""

from __future__ import annotations

from typing import Any

TRADES = "market_data.trades"


def catalog(clients: dict[str, Any]) -> Any:
    from pyiceberg.catalog import load_catalog  # heavy: imported only when a probe runs

    c = clients["catalog"]
    return load_catalog(c["name"], **c["properties"])


def namespaces(clients: dict[str, Any]) -> list[str]:
    return sorted(".".join(ns) for ns in catalog(clients).list_namespaces())


def rows(clients: dict[str, Any], table: str = TRADES, columns: tuple[str, ...] = ("*",),
         row_filter: Any = None) -> list[dict[str, Any]]:
    """The rows of the table (all, or those matching a pyiceberg filter expression, pushed down),
    read fresh from the catalog; empty if the table does not exist."""
    from pyiceberg.expressions import AlwaysTrue

    cat = catalog(clients)
    if not cat.table_exists(table):
        return []
    scan = cat.load_table(table).scan(row_filter=row_filter if row_filter is not None else AlwaysTrue(),
                                      selected_fields=columns)
    result: list[dict[str, Any]] = scan.to_arrow().to_pylist()
    return result
