"""Consumer: Kafka -> Iceberg `market_data.trades`, exactly once (offsets live in the snapshots)."""
