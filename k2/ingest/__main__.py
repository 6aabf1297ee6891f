"""python -m k2.ingest: run the ingest service (settings from K2_* environment variables)."""

import sys

from k2.ingest.service import create_app
from k2.ingest.settings import Settings
from k2.serve import serve

HELP = """Streams trades from the exchange into Kafka as TradeV2 Avro records.
Environment: K2_EXCHANGE_WS_URL, K2_EXCHANGE_REST_URL, K2_SYMBOLS, K2_KAFKA_BOOTSTRAP,
K2_SCHEMA_REGISTRY_URL, K2_TOPIC, K2_DLQ_TOPIC, K2_TOPIC_PARTITIONS, K2_TOPIC_REPLICATION (1),
K2_TOPIC_MIN_ISR (1; with K2_TOPIC_REPLICATION 3, say 2), K2_INGEST_HOST, K2_INGEST_PORT,
K2_RECONNECT_MAX_S, K2_EXCHANGE_NAME (the records' exchange and trade_id prefix, BINANCE),
K2_RECORD_NAME (Avro full name of the record, com.k2.marketdata.TradeV2).
Health: GET /health/live, /health/ready; counters: GET /status."""


def main() -> int:
    return serve("ingest", HELP, Settings.from_env, create_app, graceful_s=20)


if __name__ == "__main__":
    sys.exit(main())
