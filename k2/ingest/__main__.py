"""python -m k2.ingest: run the ingest service (settings from K2_* environment variables)."""

import sys

from k2.ingest.service import create_app
from k2.ingest.settings import Settings
from k2.serve import serve

HELP = """Streams trades from the exchange into Kafka as TradeV2 Avro records.
Health: GET /health/live, /health/ready; counters: GET /status."""


def main() -> int:
    return serve("ingest", HELP, Settings, create_app, graceful_s=20)


if __name__ == "__main__":
    sys.exit(main())
