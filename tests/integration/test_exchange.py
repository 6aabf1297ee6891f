"""The exchange simulator as a real process (`python -m k2.exchange` on a free port), reached only
over the network: WebSocket streams with the `websockets` client, REST and control with httpx.

The tests share one process and run in file order; each uses symbols of its own, so the trades
of one test never show up in another's counts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.uri import parse_uri

from harness.stack.settings import REPO_ROOT
from harness.waiting import eventually
from tests.integration.stacks import stop_process

pytestmark = pytest.mark.integration

PING_INTERVAL_S = 1
EXACT = Context(prec=80, traps=[Inexact])


class ExchangeDied(RuntimeError):
    pass


@dataclass
class Exchange:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    http: httpx.Client

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/control/status").raise_for_status().json()
        return body

    def emit(self, symbol: str, count: int, rate: float) -> dict[str, Any]:
        receipt: dict[str, Any] = (
            self.http.post("/control/emit", json={"symbol": symbol, "count": count, "rate": rate})
            .raise_for_status()
            .json()
        )
        assert receipt["count"] == count and receipt["last_id"] - receipt["first_id"] + 1 == count
        return receipt

    def emitted(self, symbol: str, from_id: int | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"symbol": symbol} | ({"fromId": from_id} if from_id is not None else {})
        body = self.http.get("/control/emitted", params=params).raise_for_status().json()
        assert body["count"] == len(body["trades"])
        trades: list[dict[str, Any]] = body["trades"]
        return trades

    def wait_emitted(self, symbol: str, count: int, within: float = 20) -> list[dict[str, Any]]:
        """The symbol's trades once `count` of them were emitted and none is pending."""

        def done() -> bool:
            state = self.status()["symbols"].get(symbol, {})
            if state.get("pending") != 0 or state.get("emitted") != count:
                raise AssertionError(f"{symbol}: {state}")
            return True

        eventually(done, within=within, describe=f"{count} {symbol} trades emitted")
        return self.emitted(symbol)

    def wait_clients(self, n: int) -> None:
        def connected() -> bool:
            clients = self.status()["clients"]
            if clients != n:
                raise AssertionError(f"{clients} clients connected")
            return True

        eventually(connected, within=10, describe=f"{n} WebSocket clients connected")

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.post(path, json=body or {}).raise_for_status().json()
        return answer


def connect(url: str, max_queue: int | None = 16, max_size: int | None = 2**20) -> ClientConnection:
    """A WebSocket client straight to the local process (never through a proxy from the environment)."""
    return ws_connect(url, open_timeout=10, proxy=None, max_queue=max_queue, max_size=max_size)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def exchange_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("K2_EXCHANGE_")}
    return env | {"PYTHONUNBUFFERED": "1"} | overrides


@contextlib.contextmanager
def running_exchange(log: Path, **env: str) -> Iterator[Exchange]:
    """An exchange process on a free port, ready; always stopped (and reaped) at the end."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "k2.exchange"],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=exchange_env(K2_EXCHANGE_PORT=str(port), K2_EXCHANGE_PING_INTERVAL_S=str(PING_INTERVAL_S), **env),
        )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, trust_env=False)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise ExchangeDied(f"exited {process.returncode}: {log.read_text()[-2000:]}")
            return bool(http.get("/health/ready").json() == {"status": "ready"})

        eventually(ready, within=20, describe="the exchange ready", fatal=(ExchangeDied,))
        yield Exchange(process, port, log, http)
    finally:
        http.close()
        stop_process(process)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    with running_exchange(tmp_path_factory.mktemp("exchange") / "exchange.log", K2_EXCHANGE_SEED="42") as ex:
        yield ex
    # it stopped on SIGTERM (uvicorn re-raises the signal after its graceful shutdown) and never crashed
    assert ex.process.returncode in (0, -signal.SIGTERM), ex.log.read_text()[-3000:]
    assert "Finished server process" in ex.log.read_text()
    assert "Traceback" not in ex.log.read_text()


def receive_frames(ws: ClientConnection, n: int, within: float = 15) -> list[str | bytes]:
    """The next `n` frames as they came (text as str, binary as bytes), or a failure saying how
    many came within the budget."""
    frames: list[str | bytes] = []
    deadline = time.monotonic() + within
    while len(frames) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"received {len(frames)} of {n} frames within {within} s")
        with contextlib.suppress(TimeoutError):
            frames.append(ws.recv(timeout=remaining))
    return frames


def receive(ws: ClientConnection, n: int, within: float = 15) -> list[str]:
    """The next `n` frames as text."""
    return [str(f) for f in receive_frames(ws, n, within)]


def is_trade(data: Any) -> bool:
    """A frame's data is a well-formed trade (what a strict ingest would accept)."""
    try:
        price, qty = Decimal(data["p"]), Decimal(data["q"])
        return (
            data["e"] == "trade"
            and isinstance(data["t"], int)
            and data["t"] > 0
            and isinstance(data["m"], bool)
            and price.is_finite()
            and 0 < price < 10**10
            and price == price.quantize(Decimal("1E-8"))
            and 0 < qty < 10**10
        )
    except (ValueError, KeyError, TypeError, ArithmeticError):
        return False


def combined_url(ex: Exchange, *symbols: str) -> str:
    return f"{ex.ws}/stream?streams=" + "/".join(f"{s.lower()}@trade" for s in symbols)


# --- the stream ---------------------------------------------------------------------------


def test_every_emitted_trade_arrives_once_in_id_order_on_the_combined_stream(exchange: Exchange) -> None:
    symbols = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
    with connect(combined_url(exchange, *symbols)) as ws:
        exchange.wait_clients(1)
        receipts = {s: exchange.emit(s, 100, 500 / 3) for s in symbols}  # 300 trades, 500/s in all
        frames = [json.loads(f) for f in receive(ws, 300)]
        # a marker emitted after everything: the next frame must be it, so nothing else was queued
        marker = exchange.emit("BTCUSDT", 1, 1000)
        assert json.loads(receive(ws, 1)[0])["data"]["t"] == marker["first_id"]

    by_symbol: dict[str, list[dict[str, Any]]] = {s: [] for s in symbols}
    for frame in frames:
        assert frame["stream"] == f"{frame['data']['s'].lower()}@trade"
        by_symbol[frame["data"]["s"]].append(frame["data"])
    for symbol, receipt in receipts.items():
        received = by_symbol[symbol]
        assert [t["t"] for t in received] == list(range(receipt["first_id"], receipt["last_id"] + 1)), symbol
        assert received == exchange.emitted(symbol)[:100]
        for trade in received:
            assert set(trade) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
            assert is_trade(trade) and trade["T"] == trade["E"] and trade["M"] is True
    # the three symbols ran side by side, not one after another: the last emit started before
    # the first one ended
    order = [f["data"]["s"] for f in frames]
    assert order.index("BNBUSDT") < len(order) - 1 - order[::-1].index("BTCUSDT")


def test_the_raw_stream_sends_bare_trade_objects(exchange: Exchange) -> None:
    with connect(f"{exchange.ws}/ws/solusdt@trade") as ws:
        exchange.wait_clients(1)
        receipt = exchange.emit("SOLUSDT", 20, 400)
        received = [json.loads(f) for f in receive(ws, 20)]
    assert [t["t"] for t in received] == list(range(receipt["first_id"], receipt["last_id"] + 1))
    assert received == exchange.emitted("SOLUSDT")
    assert all(t["s"] == "SOLUSDT" and "stream" not in t for t in received)


def test_an_emit_overlapping_a_running_one_queues_behind_it(exchange: Exchange) -> None:
    with connect(f"{exchange.ws}/ws/dotusdt@trade") as ws:
        exchange.wait_clients(1)
        first = exchange.emit("DOTUSDT", 30, 300)
        second = exchange.emit("DOTUSDT", 30, 3000)  # faster, but must wait for the first
        assert second["first_id"] == first["last_id"] + 1
        ids = [json.loads(f)["t"] for f in receive(ws, 60)]
    assert ids == list(range(first["first_id"], second["last_id"] + 1))


def test_the_same_seed_replays_the_same_trades(exchange: Exchange, tmp_path: Path) -> None:
    exchange.emit("LINKUSDT", 25, 5000)
    ours = exchange.wait_emitted("LINKUSDT", 25)
    with running_exchange(tmp_path / "replay.log", K2_EXCHANGE_SEED="42") as replay:
        replay.emit("AVAXUSDT", 7, 5000)  # other traffic first must not matter
        replay.emit("LINKUSDT", 25, 100)  # nor the pace
        theirs = replay.wait_emitted("LINKUSDT", 25)
    fields = ("t", "p", "q", "m")
    assert [[t[f] for f in fields] for t in theirs] == [[t[f] for f in fields] for t in ours]


def test_the_server_sends_pings(exchange: Exchange) -> None:
    protocol = ClientProtocol(parse_uri(f"{exchange.ws}/ws/btcusdt@trade"))
    with socket.create_connection(("127.0.0.1", exchange.port), timeout=1) as sock:
        protocol.send_request(protocol.connect())
        sock.sendall(b"".join(protocol.data_to_send()))

        def pinged() -> bool:
            protocol.receive_data(sock.recv(65536))
            sock.sendall(b"".join(protocol.data_to_send()))  # the pongs the protocol prepared
            return any(isinstance(e, Frame) and e.opcode is Opcode.PING for e in protocol.events_received())

        eventually(pinged, within=PING_INTERVAL_S * 5, every=0.01, describe="a ping frame from the server")


# --- REST backfill ------------------------------------------------------------------------


def test_rest_backfill_returns_exactly_the_emitted_trades_from_an_id(exchange: Exchange) -> None:
    receipt = exchange.emit("ADAUSDT", 50, 5000)
    emitted = exchange.wait_emitted("ADAUSDT", 50)
    from_id = receipt["first_id"] + 10

    items = exchange.http.get(
        "/api/v3/historicalTrades", params={"symbol": "ADAUSDT", "fromId": from_id, "limit": 1000}
    ).json()
    assert [i["id"] for i in items] == list(range(from_id, receipt["last_id"] + 1))
    for item, trade in zip(items, emitted[10:], strict=True):
        assert item == {
            "id": trade["t"],
            "price": trade["p"],
            "qty": trade["q"],
            "quoteQty": item["quoteQty"],
            "time": trade["T"],
            "isBuyerMaker": trade["m"],
            "isBestMatch": True,
        }
        assert Decimal(item["quoteQty"]) == EXACT.multiply(Decimal(trade["p"]), Decimal(trade["q"]))

    page = exchange.http.get(
        "/api/v3/historicalTrades", params={"symbol": "ADAUSDT", "fromId": from_id, "limit": 5}
    ).json()
    assert [i["id"] for i in page] == list(range(from_id, from_id + 5))
    recent = exchange.http.get("/api/v3/historicalTrades", params={"symbol": "ADAUSDT", "limit": 3}).json()
    assert [i["id"] for i in recent] == [receipt["last_id"] - 2, receipt["last_id"] - 1, receipt["last_id"]]
    assert len(exchange.http.get("/api/v3/historicalTrades", params={"symbol": "ADAUSDT"}).json()) == 50
    assert exchange.emitted("ADAUSDT", from_id=receipt["last_id"] - 1) == emitted[-2:]


def test_a_rate_limited_history_answers_429_with_retry_after_and_bans_a_client_that_ignores_it(
    exchange: Exchange,
) -> None:
    receipt = exchange.emit("ADAUSDT", 5, 5000)
    eventually(
        lambda: exchange.status()["symbols"]["ADAUSDT"]["pending"] == 0, within=20, describe="5 ADAUSDT trades emitted"
    )
    params = {"symbol": "ADAUSDT", "fromId": receipt["first_id"], "limit": 5}
    limited = exchange.http.post(
        "/control/rate-limit", json={"seconds": 60, "retry_after_s": 30, "ban_after": 2, "ban_s": 120}
    )
    assert limited.status_code == 200 and limited.json()["limited_for_s"] > 59
    try:
        answers = [exchange.http.get("/api/v3/historicalTrades", params=params) for _ in range(3)]
        assert [(a.status_code, a.headers["Retry-After"]) for a in answers] == [(429, "30"), (429, "30"), (418, "120")]
        assert all(a.json()["code"] == -1003 for a in answers)
        status = exchange.status()["rate_limit"]
        assert (status["answered_429"], status["answered_418"], status["bans"]) == (2, 1, 1)
    finally:
        assert exchange.http.post("/control/rate-limit", json={"seconds": 0}).status_code == 200
    assert len(exchange.http.get("/api/v3/historicalTrades", params=params).json()) == 5  # lifting ends the ban


# --- faults -------------------------------------------------------------------------------


MALFORMED_KINDS = (
    "not_json",
    "truncated",
    "missing_keys",
    "wrong_types",
    "bad_price",
    "unknown_event",
    "invalid_utf8",
    "oversized",
    "not_positive",
    "too_many_decimals",
    "not_finite",
    "unknown_symbol",
    "futures_trade",
)


def test_malformed_frames_arrive_and_are_not_trades(exchange: Exchange) -> None:
    before = exchange.emitted("XRPUSDT")
    with connect(combined_url(exchange, "XRPUSDT"), max_size=8 * 2**20) as ws:
        exchange.wait_clients(1)
        cycle = exchange.post("/control/malformed", {"count": 13})
        assert cycle == {"sent": 13, "clients": 1, "kinds": dict.fromkeys(MALFORMED_KINDS, 1)}
        assert exchange.post("/control/malformed", {"count": 3, "kind": "bad_price"}) == {
            "sent": 3,
            "clients": 1,
            "kinds": {"bad_price": 3},
        }
        frames = receive_frames(ws, 16)
        marker = exchange.emit("XRPUSDT", 1, 1000)
        after = json.loads(receive(ws, 1)[0])

    def valid(frame: str | bytes) -> bool:
        try:
            data = json.loads(frame)["data"]
            return isinstance(frame, str) and len(frame) < 2**16 and data["s"] == "XRPUSDT" and is_trade(data)
        except (ValueError, KeyError, TypeError):
            return False

    # the futures-style frame is trade-shaped: only a client that knows spot frames sets it aside
    assert sum(not valid(f) for f in frames) == 15
    # every kind in turn, each tagged with its kind in its first bytes
    heads = [(f[:80].decode(errors="replace") if isinstance(f, bytes) else f[:80]) for f in frames]
    assert [k for h in heads for k in MALFORMED_KINDS if f"malformed:{k}" in h] == [
        *MALFORMED_KINDS,
        "bad_price",
        "bad_price",
        "bad_price",
    ]
    binary = [f for f in frames if isinstance(f, bytes)]
    assert len(binary) == 1 and b"malformed:invalid_utf8" in binary[0]  # the one frame a text frame cannot carry
    assert sorted(len(f) for f in frames)[-1] == 4 * 2**20  # the oversized one, 4 MiB
    unparsable = 0
    for frame in frames:
        try:
            stream = json.loads(frame)["stream"]
            assert stream in ("xrpusdt@trade", "dogeusdt@trade")  # wrapped like any frame
        except ValueError:
            unparsable += 1
    assert unparsable == 3  # not JSON at all: not_json, truncated, and the bytes that are no UTF-8
    assert after["data"]["t"] == marker["first_id"] and is_trade(after["data"])
    assert exchange.emitted("XRPUSDT") == [*before, after["data"]]  # only the real trade was recorded
    rest = exchange.http.get("/api/v3/historicalTrades", params={"symbol": "XRPUSDT", "fromId": 0}).json()
    assert [i["id"] for i in rest] == [marker["first_id"]]


def test_replays_resend_trades_the_client_was_sent_and_record_nothing(exchange: Exchange) -> None:
    with connect(combined_url(exchange, "NEARUSDT", "ATOMUSDT")) as ws:
        exchange.wait_clients(1)
        # nothing sent yet: nothing to replay
        assert exchange.post("/control/malformed", {"count": 2, "kind": "duplicate_id"})["sent"] == 0
        receipt = exchange.emit("ATOMUSDT", 5, 1000)
        sent = [json.loads(f) for f in receive(ws, 5)]
        dup = exchange.post("/control/malformed", {"count": 2, "kind": "duplicate_id", "symbol": "ATOMUSDT"})
        back = exchange.post("/control/malformed", {"count": 3, "kind": "backwards_id"})
        assert (dup["kinds"], back["kinds"]) == ({"duplicate_id": 2}, {"backwards_id": 3})
        replays = [json.loads(f) for f in receive(ws, 5)]
        # a symbol this client does not follow: no client gets anything
        assert exchange.post("/control/malformed", {"count": 1, "kind": "not_json", "symbol": "FILUSDT"}) == {
            "sent": 0,
            "clients": 0,
            "kinds": {},
        }
    ids = [f["data"]["t"] for f in replays]
    last = receipt["last_id"]
    assert ids == [last, last, last - 1, last - 2, last - 3]
    assert replays[0] == sent[-1] and replays[2] == sent[-2]  # the very frames, byte for byte the same trade
    assert len(exchange.emitted("ATOMUSDT")) == 5  # replays are no new trades


@pytest.mark.parametrize("mode", ["clean", "abrupt"])
def test_disconnect_drops_every_client(exchange: Exchange, mode: str) -> None:
    with connect(combined_url(exchange, "BTCUSDT")) as one, connect(f"{exchange.ws}/ws/ethusdt@trade") as two:
        exchange.wait_clients(2)
        assert exchange.post("/control/disconnect", {"mode": mode}) == {"dropped": 2}
        for ws in (one, two):
            with pytest.raises(ConnectionClosed) as closed:
                receive(ws, 1)
            if mode == "clean":
                assert isinstance(closed.value, ConnectionClosedOK)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            else:  # the TCP connection ended without any close frame
                assert isinstance(closed.value, ConnectionClosedError)
                assert closed.value.rcvd is None
    exchange.wait_clients(0)


def test_a_paused_feed_delivers_nothing_and_resumes_with_new_trades_only(exchange: Exchange) -> None:
    with connect(combined_url(exchange, "LTCUSDT")) as ws:
        exchange.wait_clients(1)
        before = exchange.emit("LTCUSDT", 10, 1000)
        assert [json.loads(f)["data"]["t"] for f in receive(ws, 10)][-1] == before["last_id"]
        try:
            exchange.post("/control/pause")
            assert exchange.status()["paused"] is True
            missed = exchange.emit("LTCUSDT", 20, 1000)
            exchange.wait_emitted("LTCUSDT", 30)  # emitted and recorded while nothing is delivered
        finally:
            exchange.post("/control/resume")
        assert exchange.status()["paused"] is False
        after = exchange.emit("LTCUSDT", 10, 1000)
        received = [json.loads(f)["data"]["t"] for f in receive(ws, 10)]

    # had any trade of the pause been delivered, it would have come before these
    assert received == list(range(after["first_id"], after["last_id"] + 1))
    assert received[0] - before["last_id"] == 21  # the gap a client must notice and backfill
    gap = exchange.http.get(
        "/api/v3/historicalTrades", params={"symbol": "LTCUSDT", "fromId": missed["first_id"], "limit": 20}
    ).json()
    assert [i["id"] for i in gap] == list(range(missed["first_id"], missed["last_id"] + 1))


# --- bad requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "named"),
    [
        ({"symbol": "BTCUSDT", "limit": "0"}, -1100, "'limit'"),
        ({"symbol": "BTCUSDT", "limit": "1001"}, -1100, "'limit'"),
        ({"symbol": "BTCUSDT", "fromId": "x1"}, -1100, "'fromId'"),
        ({"limit": "5"}, -1100, "'symbol'"),
        ({"symbol": "btc usdt"}, -1100, "'symbol'"),
        ({"symbol": "NOSUCHCOIN"}, -1121, "Invalid symbol."),
    ],
)
def test_bad_rest_parameters_give_400_naming_the_parameter(
    exchange: Exchange, params: dict[str, str], code: int, named: str
) -> None:
    response = exchange.http.get("/api/v3/historicalTrades", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == code and named in response.json()["msg"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/control/emit", {"symbol": "BTCUSDT", "count": 0, "rate": 10}, "count"),
        ("/control/emit", {"symbol": "BTCUSDT", "count": 1_000_001, "rate": 10}, "count"),
        ("/control/emit", {"symbol": "BTCUSDT", "count": 10, "rate": 0}, "rate"),
        ("/control/emit", {"symbol": "BTCUSDT", "count": 10, "rate": 100_001}, "rate"),
        ("/control/emit", {"symbol": "btc", "count": 10, "rate": 10}, "symbol"),
        ("/control/malformed", {"count": 2, "kind": "nonsense"}, "kind"),
        ("/control/disconnect", {"mode": "politely"}, "mode"),
        ("/control/rate-limit", {}, "seconds"),
        ("/control/rate-limit", {"seconds": 5, "retry_after_s": 0}, "retry_after_s"),
        ("/control/rate-limit", {"seconds": 5, "politely": True}, "politely"),
    ],
)
def test_bad_control_requests_give_422_naming_the_field(
    exchange: Exchange, path: str, body: dict[str, Any], field: str
) -> None:
    before = exchange.status()
    response = exchange.http.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field and field in response.json()["detail"]
    assert exchange.status() == before  # nothing was reserved or sent


def test_emitted_with_a_bad_symbol_gives_422(exchange: Exchange) -> None:
    response = exchange.http.get("/control/emitted", params={"symbol": "btc"})
    assert response.status_code == 422 and "symbol" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/stream?streams=btcusdt@depth", "/stream", "/ws/BTCUSDT@trade"])
def test_an_invalid_stream_name_is_closed_with_1008(exchange: Exchange, path: str) -> None:
    with connect(f"{exchange.ws}{path}") as ws, pytest.raises(ConnectionClosedError) as closed:
        receive(ws, 1)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "stream" in closed.value.rcvd.reason


def test_a_bad_port_setting_exits_2_with_one_line_naming_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "k2.exchange"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=exchange_env(K2_EXCHANGE_PORT="not-a-port"),
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "K2_EXCHANGE_PORT" in lines[0], result.stderr
    assert result.stdout == ""


# --- load ---------------------------------------------------------------------------------


def test_ten_thousand_trades_a_second_reach_one_client(exchange: Exchange) -> None:
    count, rate = 30_000, 10_000
    with connect(f"{exchange.ws}/ws/perfusdt@trade", max_queue=None) as ws:
        exchange.wait_clients(1)
        receipt = exchange.emit("PERFUSDT", count, rate)
        first = receive(ws, 1)
        started = time.monotonic()
        rest = receive(ws, count - 1, within=30)
        seconds = time.monotonic() - started
    ids = [json.loads(f)["t"] for f in [*first, *rest]]
    assert ids == list(range(receipt["first_id"], receipt["last_id"] + 1))
    achieved = (count - 1) / seconds
    print(f"\nexchange throughput to one client: {achieved:.0f} trades/s ({count} trades at {rate}/s)")
    assert achieved > rate * 0.8, f"only {achieved:.0f} trades/s"


def test_a_client_that_does_not_read_is_dropped_without_stalling_the_others(tmp_path: Path) -> None:
    # The queue must hold a burst of the emitter (several trades per tick) for a reading client;
    # the stalled one first fills its kernel buffers (a few MB, some 30,000 frames), then the queue.
    with running_exchange(tmp_path / "overflow.log", K2_EXCHANGE_CLIENT_QUEUE="1000") as ex:
        stalled = socket.socket()
        try:
            # a handshake, then never a read
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting, to count
            stalled.connect(("127.0.0.1", ex.port))
            protocol = ClientProtocol(parse_uri(f"{ex.ws}/ws/btcusdt@trade"))
            protocol.send_request(protocol.connect())
            stalled.sendall(b"".join(protocol.data_to_send()))
            with connect(f"{ex.ws}/ws/ethusdt@trade", max_queue=None) as reader:
                ex.wait_clients(2)
                flood = ex.emit("BTCUSDT", 60_000, 30_000)
                steady = ex.emit("ETHUSDT", 500, 250)
                ids = [json.loads(f)["t"] for f in receive(reader, 500, within=30)]
                assert ids == list(range(steady["first_id"], steady["last_id"] + 1))
                ex.wait_clients(1)  # the stalled one was dropped, the reader is still there
                # the emitter never waited for the stalled client
                assert len(ex.wait_emitted("BTCUSDT", 60_000, within=10)) == flood["count"]
        finally:
            stalled.close()
        overflow = [line for line in ex.log.read_text().splitlines() if "client queue overflow" in line]
        assert len(overflow) == 1 and '"streams": ["BTCUSDT"]' in overflow[0], overflow


# --- an exchange that trades on its own ---------------------------------------------------------


def test_a_steady_symbol_trades_without_being_asked_and_its_history_serves_the_window(tmp_path: Path) -> None:
    from harness.workload.history import ExchangeHistory

    with running_exchange(tmp_path / "steady.log", K2_EXCHANGE_STEADY="SOLUSDT:50") as ex:
        history = ExchangeHistory(f"http://127.0.0.1:{ex.port}")
        try:
            first = eventually(lambda: history.latest_id("SOLUSDT"), within=10, describe="SOLUSDT traded once")
            last = eventually(
                lambda: (n := history.latest_id("SOLUSDT")) is not None and n >= first + 50 and n,
                within=10,
                describe="50 more SOLUSDT trades without an emit",
            )
            payloads, _ = history.record("SOLUSDT", from_id=first, to_id=last)
        finally:
            history.close()
    assert [p["t"] for p in payloads] == list(range(first, last + 1))
    assert all(p["s"] == "SOLUSDT" and p["T"] > 0 and p["m"] in (True, False) for p in payloads)


def test_a_malformed_steady_setting_exits_2_naming_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "k2.exchange"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=exchange_env(K2_EXCHANGE_STEADY="SOLUSDT:fast"),
        timeout=60,
    )
    assert result.returncode == 2 and "K2_EXCHANGE_STEADY has 'SOLUSDT:fast'" in result.stderr, result.stderr
