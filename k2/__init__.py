"""The reference K2 platform (built in its own issue): exchange, ingest, consumer, api."""
