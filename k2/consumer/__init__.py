"""Consumer: Kafka -> the Iceberg trades table (K2_TABLE), exactly once (offsets live in the snapshots)."""
