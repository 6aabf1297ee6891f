"""What the Iceberg catalog holds: namespaces, tables, snapshots."""

from __future__ import annotations

from typing import Any


def catalog(clients: dict[str, Any]) -> Any:
    from pyiceberg.catalog import load_catalog  # heavy: imported only when a probe runs

    c = clients["catalog"]
    return load_catalog(c["name"], **c["properties"])


def namespaces(clients: dict[str, Any]) -> list[str]:
    return sorted(".".join(ns) for ns in catalog(clients).list_namespaces())
