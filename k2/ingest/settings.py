"""Ingest settings, from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from k2.names import env_exchange_name, env_record_name
from k2.settings import env_int, env_list, env_str, env_url


@dataclass(frozen=True)
class Settings:
    ws_url: str
    rest_url: str
    symbols: tuple[str, ...]
    bootstrap: str
    registry_url: str
    topic: str
    dlq_topic: str
    partitions: int
    replication: int
    """Replicas of each topic the ingest creates (3 on a three-broker cluster)."""
    min_isr: int
    """min.insync.replicas of those topics: with acks=all, a write counts once this many have it."""
    host: str
    port: int
    reconnect_max_s: int
    exchange_name: str
    """Written into every record's `exchange` and as its `trade_id` prefix."""
    record_name: str
    """The Avro full name of the trade record the ingest registers and writes."""

    @staticmethod
    def from_env(env: Mapping[str, str]) -> Settings:
        symbols = tuple(s.upper() for s in env_list(env, "K2_SYMBOLS", "BTCUSDT,ETHUSDT,BNBUSDT"))
        return Settings(
            ws_url=env_url(env, "K2_EXCHANGE_WS_URL", "wss://stream.binance.com:9443", schemes=("ws", "wss")),
            rest_url=env_url(env, "K2_EXCHANGE_REST_URL", "https://api.binance.com"),
            symbols=symbols,
            bootstrap=env_str(env, "K2_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            registry_url=env_url(env, "K2_SCHEMA_REGISTRY_URL"),
            topic=env_str(env, "K2_TOPIC", "market.crypto.trades.binance"),
            dlq_topic=env_str(env, "K2_DLQ_TOPIC", "market.crypto.trades.binance.dlq"),
            partitions=env_int(env, "K2_TOPIC_PARTITIONS", 3, minimum=1),
            replication=env_int(env, "K2_TOPIC_REPLICATION", 1, minimum=1),
            min_isr=env_int(env, "K2_TOPIC_MIN_ISR", 1, minimum=1),
            host=env_str(env, "K2_INGEST_HOST", "127.0.0.1"),
            port=env_int(env, "K2_INGEST_PORT", 18701, minimum=1),
            reconnect_max_s=env_int(env, "K2_RECONNECT_MAX_S", 30, minimum=1),
            exchange_name=env_exchange_name(env),
            record_name=env_record_name(env),
        )

    @property
    def stream_url(self) -> str:
        streams = "/".join(f"{s.lower()}@trade" for s in self.symbols)
        return f"{self.ws_url}/stream?streams={streams}"
