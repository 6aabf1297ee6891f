"""Consumer settings, from the environment (docs/settings.md lists them)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator
from pydantic_settings import NoDecode

from k2.catalog import CatalogSettings
from k2.names import DEFAULT_TABLE, TableId, check_table
from k2.settings import KafkaSettings, var


class Settings(CatalogSettings, KafkaSettings):
    group: str = var("K2_CONSUMER_GROUP", "k2-iceberg-writer-crypto-v2", "the consumer group")
    instance_id: str = var(
        "K2_CONSUMER_INSTANCE_ID", "k2-iceberg-writer-1", "static group member id: distinct per consumer of the group"
    )
    commit_interval_ms: int = var(
        "K2_COMMIT_INTERVAL_MS", 500, "longest a consumed trade waits before its table commit", ge=10
    )
    commit_max_rows: int = var("K2_COMMIT_MAX_ROWS", 50000, "rows that commit a batch before the interval ends", ge=1)
    snapshots_kept: int = var("K2_SNAPSHOTS_KEPT", 60, "table snapshots kept when older ones expire", ge=10)
    table: Annotated[TableId, NoDecode, BeforeValidator(check_table)] = var(
        "K2_TABLE", str(DEFAULT_TABLE), "the Iceberg table written, namespace.table"
    )
    host: str = var("K2_CONSUMER_HOST", "127.0.0.1", "bind address of /health and /status")
    port: int = var("K2_CONSUMER_PORT", 18702, "port of /health and /status", ge=1, le=65535)
