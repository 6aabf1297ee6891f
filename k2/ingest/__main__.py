"""python -m k2.ingest: run the ingest service (settings from K2_* environment variables)."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from k2 import logs
from k2.ingest.service import create_app
from k2.ingest.settings import Settings
from k2.settings import SettingsError

HELP = """Streams trades from the exchange into Kafka as TradeV2 Avro records.
Environment: K2_EXCHANGE_WS_URL, K2_EXCHANGE_REST_URL, K2_SYMBOLS, K2_KAFKA_BOOTSTRAP,
K2_SCHEMA_REGISTRY_URL, K2_TOPIC, K2_DLQ_TOPIC, K2_TOPIC_PARTITIONS, K2_INGEST_HOST, K2_INGEST_PORT,
K2_RECONNECT_MAX_S. Health: GET /health/live, /health/ready; counters: GET /status."""


def main() -> int:
    argparse.ArgumentParser(prog="python -m k2.ingest", description=HELP).parse_args()
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.setup("ingest")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
