"""Ingest: exchange WebSocket -> TradeV2 Avro -> Kafka, with reconnect, gap backfill and a DLQ."""
