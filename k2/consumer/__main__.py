"""python -m k2.consumer: run the Kafka -> Iceberg writer (settings from K2_* environment variables)."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from k2 import logs
from k2.consumer.service import create_app
from k2.consumer.settings import Settings
from k2.settings import SettingsError

HELP = """Writes TradeV2 records from Kafka into the Iceberg table market_data.trades, exactly once.
Environment: K2_KAFKA_BOOTSTRAP, K2_SCHEMA_REGISTRY_URL, K2_TOPIC, K2_DLQ_TOPIC, K2_CONSUMER_GROUP,
K2_CONSUMER_INSTANCE_ID, K2_COMMIT_INTERVAL_MS, K2_COMMIT_MAX_ROWS, K2_CATALOG_* / K2_WAREHOUSE / K2_S3_*,
K2_CONSUMER_HOST, K2_CONSUMER_PORT. Health: GET /health/live, /health/ready; counters: GET /status."""


def main() -> int:
    argparse.ArgumentParser(prog="python -m k2.consumer", description=HELP).parse_args()
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.setup("consumer")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
