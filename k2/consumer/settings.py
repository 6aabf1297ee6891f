"""Consumer settings, from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from k2.catalog import CatalogSettings
from k2.names import TableId, env_table
from k2.settings import env_int, env_str, env_url


@dataclass(frozen=True)
class Settings:
    bootstrap: str
    registry_url: str
    topic: str
    dlq_topic: str
    group: str
    instance_id: str
    commit_interval_ms: int
    commit_max_rows: int
    snapshots_kept: int
    catalog: CatalogSettings
    table: TableId
    host: str
    port: int

    @staticmethod
    def from_env(env: Mapping[str, str]) -> Settings:
        return Settings(
            bootstrap=env_str(env, "K2_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            registry_url=env_url(env, "K2_SCHEMA_REGISTRY_URL"),
            topic=env_str(env, "K2_TOPIC", "market.crypto.trades.binance"),
            dlq_topic=env_str(env, "K2_DLQ_TOPIC", "market.crypto.trades.binance.dlq"),
            group=env_str(env, "K2_CONSUMER_GROUP", "k2-iceberg-writer-crypto-v2"),
            instance_id=env_str(env, "K2_CONSUMER_INSTANCE_ID", "k2-iceberg-writer-1"),
            commit_interval_ms=env_int(env, "K2_COMMIT_INTERVAL_MS", 500, minimum=10),
            commit_max_rows=env_int(env, "K2_COMMIT_MAX_ROWS", 50000, minimum=1),
            snapshots_kept=env_int(env, "K2_SNAPSHOTS_KEPT", 60, minimum=10),
            catalog=CatalogSettings.from_env(env),
            table=env_table(env),
            host=env_str(env, "K2_CONSUMER_HOST", "127.0.0.1"),
            port=env_int(env, "K2_CONSUMER_PORT", 18702, minimum=1),
        )
