"""Consumer settings, from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from k2.catalog import CatalogSettings
from k2.settings import SettingsError, env_int, env_str, env_url

# Deliberate, opt-in defects (K2_CONSUMER_DEFECT), so that the acceptance suite can prove it
# catches real bugs. Never set in production: unset or empty is the correct, exactly-once consumer.
DEFECT_VARIABLE = "K2_CONSUMER_DEFECT"
AUTOCOMMIT = "autocommit"
DUPLICATE_BATCH = "duplicate-batch"
DUPLICATE_EVERY = 5  # duplicate-batch: every 5th batch is appended twice
DEFECTS: dict[str, str] = {
    AUTOCOMMIT: "at-most-once: Kafka auto-commits offsets as records are polled (before they reach Iceberg), "
                "partitions resume from the group's committed offsets instead of the table's, and a buffered "
                "batch is dropped at shutdown; trades buffered at a restart are LOST",
    DUPLICATE_BATCH: f"every {DUPLICATE_EVERY}th batch is appended to Iceberg twice (two commits); "
                     "its trades are DUPLICATED",
}


def defect_from_env(env: Mapping[str, str]) -> str:
    """The defect to inject: "" (none, the correct consumer) or one of DEFECTS."""
    raw = env.get(DEFECT_VARIABLE, "")
    value = raw.strip().lower()
    if value and value not in DEFECTS:
        raise SettingsError(f"{DEFECT_VARIABLE}={raw!r} is unknown; use one of {', '.join(DEFECTS)} "
                            "(or leave it unset for the correct consumer)")
    return value


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
    host: str
    port: int
    defect: str = ""  # "" = correct; otherwise a key of DEFECTS (a deliberate bug, for testing the suite)

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
            host=env_str(env, "K2_CONSUMER_HOST", "127.0.0.1"),
            port=env_int(env, "K2_CONSUMER_PORT", 18702, minimum=1),
            defect=defect_from_env(env),
        )
