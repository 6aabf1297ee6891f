"""python -m k2.consumer: run the Kafka -> Iceberg writer (settings from K2_* environment variables)."""

import sys

from k2 import memory

memory.settle()  # before pyarrow is imported and any thread starts

from k2.consumer.service import create_app  # noqa: E402
from k2.consumer.settings import Settings  # noqa: E402
from k2.serve import serve  # noqa: E402

HELP = """Writes TradeV2 records from Kafka into the Iceberg table K2_TABLE, exactly once.
Health: GET /health/live, /health/ready; counters: GET /status."""


def main() -> int:
    return serve("consumer", HELP, Settings, create_app, graceful_s=25)


if __name__ == "__main__":
    sys.exit(main())
