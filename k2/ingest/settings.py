"""Ingest settings, from the environment (docs/settings.md lists them)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

from k2.names import DEFAULT_EXCHANGE_NAME, DEFAULT_RECORD_NAME, check_exchange_name, check_record_name
from k2.settings import KafkaSettings, check_url, check_ws_url, split_list, var


def _upper_list(value: Any) -> Any:
    items = split_list(value)
    return tuple(s.upper() for s in items) if isinstance(items, tuple) else items


class Settings(KafkaSettings):
    ws_url: Annotated[str, AfterValidator(check_ws_url)] = var(
        "K2_EXCHANGE_WS_URL", "wss://stream.binance.com:9443", "the exchange's WebSocket base URL"
    )
    rest_url: Annotated[str, AfterValidator(check_url)] = var(
        "K2_EXCHANGE_REST_URL", "https://api.binance.com", "the exchange's REST base URL (trade history, backfill)"
    )
    symbols: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_upper_list)] = var(
        "K2_SYMBOLS", "BTCUSDT,ETHUSDT,BNBUSDT", "the symbols streamed, comma-separated"
    )
    partitions: int = var("K2_TOPIC_PARTITIONS", 3, "partitions of each topic the ingest creates", ge=1)
    replication: int = var(
        "K2_TOPIC_REPLICATION", 1, "replicas of each topic the ingest creates (3 on a three-broker cluster)", ge=1
    )
    min_isr: int = var(
        "K2_TOPIC_MIN_ISR",
        1,
        "min.insync.replicas of those topics: with acks=all a write counts once this many have it "
        "(with K2_TOPIC_REPLICATION 3, say 2)",
        ge=1,
    )
    host: str = var("K2_INGEST_HOST", "127.0.0.1", "bind address of /health and /status")
    port: int = var("K2_INGEST_PORT", 18701, "port of /health and /status", ge=1, le=65535)
    reconnect_max_s: int = var("K2_RECONNECT_MAX_S", 30, "longest wait between reconnects to the exchange", ge=1)
    exchange_name: Annotated[str, AfterValidator(check_exchange_name)] = var(
        "K2_EXCHANGE_NAME", DEFAULT_EXCHANGE_NAME, "written into every record's exchange and as its trade_id prefix"
    )
    record_name: Annotated[str, AfterValidator(check_record_name)] = var(
        "K2_RECORD_NAME", DEFAULT_RECORD_NAME, "the Avro full name of the trade record the ingest registers and writes"
    )

    @property
    def stream_url(self) -> str:
        streams = "/".join(f"{s.lower()}@trade" for s in self.symbols)
        return f"{self.ws_url}/stream?streams={streams}"
