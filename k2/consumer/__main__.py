"""python -m k2.consumer: run the Kafka -> Iceberg writer (settings from K2_* environment variables)."""

import sys

from k2 import memory

memory.settle()  # before pyarrow is imported and any thread starts

from k2.consumer.service import create_app  # noqa: E402
from k2.consumer.settings import Settings  # noqa: E402
from k2.serve import serve  # noqa: E402

HELP = """Writes TradeV2 records from Kafka into the Iceberg table K2_TABLE, exactly once.
Environment: K2_KAFKA_BOOTSTRAP, K2_SCHEMA_REGISTRY_URL, K2_TOPIC, K2_DLQ_TOPIC, K2_CONSUMER_GROUP,
K2_CONSUMER_INSTANCE_ID, K2_COMMIT_INTERVAL_MS (500), K2_COMMIT_MAX_ROWS, K2_SNAPSHOTS_KEPT (60),
K2_CATALOG_* / K2_WAREHOUSE / K2_S3_*, K2_TABLE (namespace.table, market_data.trades),
K2_CONSUMER_HOST, K2_CONSUMER_PORT.
Health: GET /health/live, /health/ready; counters: GET /status."""


def main() -> int:
    return serve("consumer", HELP, Settings.from_env, create_app, graceful_s=25)


if __name__ == "__main__":
    sys.exit(main())
