"""The query API as a real process (`python -m k2.api`) over a real catalog (PostgreSQL) and
object store (SeaweedFS) of its own stack (.stack-api-it, ports shifted by 300), with the trades
table filled with known rows.

test_api.py and test_api_fuzz.py share one such stack (fixtures `api_stack`, `api` and `table` of
conftest.py): starting a stack costs 20-40 s here. `SharedApi` starts each part on first use and
conftest closes it as soon as the next test needs none of it, so the stack is not kept idle while
the rest of the integration suite runs its own stacks.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from harness.endpoints import Endpoints
from harness.stack.local import LocalDriver
from harness.waiting import eventually
from k2.catalog import ensure_table
from k2.schemas.table import ARROW_SCHEMA, IDENTIFIER
from tests.integration.stacks import own_stack, stop_process

REPO = Path(__file__).resolve().parents[2]
STACK_ENV = {"K2_STACK_DIR": str(REPO / ".stack-api-it"), "K2_STACK_PORT_OFFSET": "300"}
KEY_HEADER = "X-API-Key"
KEY = "it-api-key-5f0c"
AUTH = {KEY_HEADER: KEY}
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
DAY0 = datetime(2024, 3, 1)
ROWS_PER_COMMIT = 1000
COMMITS = 3
# prices that break floats or naive formatting, placed on known trades
SPECIAL_PRICES = {0: "0.00000001", 1: "12345678.87654321", 2: "9999999999.99999999", 5: "42000.10000000"}


# ------------------------------------------------------------------ the data, built independently of k2.api
def trade(i: int) -> dict[str, Any]:
    """Trade i: symbols round-robin, one every 77.123456 s from DAY0 (so the rows span 3 days)."""
    ts = DAY0 + timedelta(microseconds=77_123_456 * i)
    price = SPECIAL_PRICES.get(i, f"{20000 + i}.{i % 100000000:08d}")
    maker = "true" if i % 2 else "false"
    return {
        "message_id": f"00000000-0000-4000-8000-{i:012d}",
        "trade_id": f"BINANCE-{1000000 + i}",
        "symbol": SYMBOLS[i % 3],
        "exchange": "BINANCE",
        "asset_class": "crypto",
        "timestamp": ts,
        "price": Decimal(price),
        "quantity": Decimal(f"0.{i:08d}") if i else Decimal("12345678.87654321"),
        "currency": "USDT",
        "side": "SELL" if i % 2 else "BUY",
        "trade_conditions": '["odd-lot"]' if i % 10 == 0 else "[]",
        "source_sequence": 1000000 + i if i % 7 else None,
        "ingestion_timestamp": ts + timedelta(milliseconds=150, microseconds=7),
        "platform_sequence": i if i % 3 == 0 else None,
        "vendor_data": None if i % 5 == 0 else f'{{"is_buyer_maker": "{maker}", "event_type": "trade"}}',
    }


ALL = [trade(i) for i in range(ROWS_PER_COMMIT * COMMITS)]


# ------------------------------------------------------------------ the API process
class ApiDied(Exception):
    pass


@dataclass
class Api:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    # one keep-alive client, as a real consumer of the API would use: a fresh client per request
    # would add its own setup (tens of ms) to every latency measured here
    http: httpx.Client

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return self.request("GET", path, headers, **params)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        if self.process.poll() is not None:
            raise ApiDied(f"the API exited with {self.process.returncode}:\n{self.tail()}")
        return self.http.request(method, self.url + path, headers=headers, params=params)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_api(endpoints: Endpoints, log: Path) -> Iterator[Api]:
    """`python -m k2.api` on the stack's catalog and object store, stopped on exit."""
    props = endpoints.catalog.properties
    port = free_port()
    env = {
        **os.environ,
        "K2_API_KEY": KEY,
        "K2_API_HOST": "127.0.0.1",
        "K2_API_PORT": str(port),
        "K2_API_VERSION": "it-1",
        "K2_CATALOG_NAME": endpoints.catalog.name,
        "K2_CATALOG_TYPE": "sql",
        "K2_CATALOG_URI": props["uri"],
        "K2_WAREHOUSE": props["warehouse"],
        "K2_S3_ENDPOINT": props["s3.endpoint"],
        "K2_S3_ACCESS_KEY": props["s3.access-key-id"],
        "K2_S3_SECRET_KEY": props["s3.secret-access-key"],
        "K2_S3_REGION": props["s3.region"],
        "K2_API_QUERY_TIMEOUT_MS": "4000",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "k2.api"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = Api(f"http://127.0.0.1:{port}", process, log, httpx.Client(timeout=15))
    try:
        eventually(
            lambda: running.get("/health/live").status_code == 200,
            within=30,
            fatal=(ApiDied,),
            describe="API answers /health/live",
        )
        yield running
    finally:
        running.http.close()
        stop_process(process)
        print(f"--- API log tail ---\n{running.tail()}", flush=True)


def fill_table(endpoints: Endpoints) -> Any:
    """The trades table with ALL rows, appended in COMMITS commits (so several snapshots)."""
    from pyiceberg.catalog import load_catalog

    catalog = load_catalog(endpoints.catalog.name, **endpoints.catalog.properties)
    created = ensure_table(catalog)
    for c in range(COMMITS):
        created.append(pa.Table.from_pylist(ALL[c * ROWS_PER_COMMIT : (c + 1) * ROWS_PER_COMMIT], schema=ARROW_SCHEMA))
    return catalog.load_table(IDENTIFIER)


# ------------------------------------------------------------------ shared between test modules
class SharedApi:
    """The stack, the API process and the filled table, each started on first use.

    Tests ask for the parts they need, in test_api.py's order: the API first (the table must not
    exist yet for its first test), the table later. `close()` stops everything; a later `driver()`
    would start a fresh (purged) stack, so closing early is never wrong, only slower.
    """

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._exit = contextlib.ExitStack()
        self._driver: LocalDriver | None = None
        self._api: Api | None = None
        self._table: Any = None
        self._starts = 0

    @property
    def started(self) -> bool:
        return self._driver is not None

    def driver(self) -> LocalDriver:
        if self._driver is None:
            self._driver = self._exit.enter_context(own_stack({**os.environ, **STACK_ENV}, "infra"))
        return self._driver

    def api(self) -> Api:
        if self._api is None:
            endpoints = self.driver().endpoints()
            self._starts += 1
            self._api = self._exit.enter_context(running_api(endpoints, self._log_dir / f"api-{self._starts}.log"))
        return self._api

    def table(self) -> Any:
        if self._table is None:
            self._table = fill_table(self.driver().endpoints())
        return self._table

    def close(self) -> None:
        exit_stack, self._exit = self._exit, contextlib.ExitStack()
        self._driver, self._api, self._table = None, None, None
        exit_stack.close()  # the API first, then the stack: the reverse order of their start
