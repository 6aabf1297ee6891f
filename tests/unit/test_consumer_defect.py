"""The consumer's deliberate, opt-in defects (K2_CONSUMER_DEFECT): parsing, the loud warning, and
what each defect changes in the loop's logic (on fakes; no Kafka, no Iceberg)."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, Consumer, KafkaError, TopicPartition

from k2.consumer.loop import ConsumerLoop, is_fatal
from k2.consumer.rows import to_row
from k2.consumer.service import warn_defect
from k2.consumer.settings import DEFECTS, Settings, defect_from_env
from k2.consumer.writer import StaleWriter
from k2.settings import SettingsError

REPO = Path(__file__).resolve().parents[2]
TOPIC = "market.crypto.trades.binance"
ENV = {"K2_SCHEMA_REGISTRY_URL": "http://127.0.0.1:1", "K2_CATALOG_URI": "postgresql+psycopg2://u:p@127.0.0.1:1/db",
       "K2_S3_ENDPOINT": "http://127.0.0.1:1", "K2_S3_ACCESS_KEY": "a", "K2_S3_SECRET_KEY": "b"}
UNKNOWN = ("K2_CONSUMER_DEFECT='sometimes' is unknown; use one of autocommit, duplicate-batch "
           "(or leave it unset for the correct consumer)")


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize("env", [{}, {"K2_CONSUMER_DEFECT": ""}, {"K2_CONSUMER_DEFECT": "  "}])
def test_unset_or_empty_is_the_correct_consumer(env: dict[str, str]) -> None:
    assert defect_from_env(env) == ""
    assert Settings.from_env({**ENV, **env}).defect == ""


@pytest.mark.parametrize(("raw", "defect"), [
    ("autocommit", "autocommit"), ("duplicate-batch", "duplicate-batch"),
    (" AutoCommit ", "autocommit"), ("DUPLICATE-BATCH", "duplicate-batch"),
])
def test_the_known_defects(raw: str, defect: str) -> None:
    assert defect_from_env({"K2_CONSUMER_DEFECT": raw}) == defect
    assert Settings.from_env({**ENV, "K2_CONSUMER_DEFECT": raw}).defect == defect


@pytest.mark.parametrize("raw", ["sometimes", "auto-commit", "duplicate", "true", "1"])
def test_an_unknown_defect_names_the_setting_and_the_valid_values(raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**ENV, "K2_CONSUMER_DEFECT": raw})
    message = str(info.value)
    assert message.startswith(f"K2_CONSUMER_DEFECT={raw!r} is unknown; use one of ")
    assert all(name in message for name in DEFECTS)


def test_main_refuses_an_unknown_defect_with_one_line_and_exit_2() -> None:
    result = subprocess.run([sys.executable, "-m", "k2.consumer"], capture_output=True, text=True, timeout=60,
                            cwd=REPO, env={"PATH": "/usr/bin:/bin", **ENV, "K2_CONSUMER_DEFECT": "sometimes"})
    assert result.returncode == 2
    assert result.stderr == f"error: {UNKNOWN}\n"
    assert "Traceback" not in result.stderr + result.stdout


# ------------------------------------------------------------------ the warning
def test_an_active_defect_is_announced_loudly(caplog: pytest.LogCaptureFixture) -> None:
    for defect in DEFECTS:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="k2.consumer"):
            warn_defect(Settings.from_env({**ENV, "K2_CONSUMER_DEFECT": defect}))
        [record] = caplog.records
        assert record.levelno == logging.WARNING
        assert record.getMessage().startswith(f"DEFECT ACTIVE: K2_CONSUMER_DEFECT={defect}: ")


def test_the_correct_consumer_says_nothing_about_defects(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="k2.consumer"):
        warn_defect(Settings.from_env(ENV))
    assert caplog.records == []


# ------------------------------------------------------------------ the loop, on fakes
class FakeWriter:
    """Keeps commits in memory, with the real writer's stale check."""

    def __init__(self, table: dict[int, int]) -> None:
        self.table = dict(table)
        self.appends: list[int] = []  # rows per append

    def committed(self) -> dict[int, int]:
        return dict(self.table)

    def commit(self, rows: Any, base: dict[int, int | None], new: dict[int, int]) -> dict[int, int]:
        if any(self.table.get(p) != base.get(p) for p in new):
            raise StaleWriter(f"table at {self.table}, batch began at {base}")
        self.table.update(new)
        self.appends.append(rows.num_rows)
        return dict(self.table)


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned: list[TopicPartition] = []
        self.commits: list[list[TopicPartition]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = partitions

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.commits.append(offsets)


def loop_with(defect: str, table: dict[int, int]) -> tuple[ConsumerLoop, FakeWriter, FakeConsumer]:
    loop = ConsumerLoop(Settings.from_env({**ENV, "K2_CONSUMER_DEFECT": defect}))
    writer = FakeWriter(table)
    loop.writer = writer  # type: ignore[assignment]
    loop._base = {p: o for p, o in table.items()}  # as after an assignment
    return loop, writer, FakeConsumer()


def record(i: int) -> dict[str, Any]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return to_row({
        "message_id": f"m-{i}", "trade_id": f"BINANCE-{i}", "symbol": "BTCUSDT", "exchange": "BINANCE",
        "asset_class": "crypto", "timestamp": now, "price": Decimal("1.5"), "quantity": Decimal("2"),
        "currency": "USDT", "side": "BUY", "trade_conditions": [], "source_sequence": i,
        "ingestion_timestamp": now, "platform_sequence": None, "vendor_data": None})


def commit_batches(loop: ConsumerLoop, consumer: FakeConsumer, batches: int, size: int = 3) -> None:
    offset = loop._base.get(0) or 0
    for _ in range(batches):
        loop._rows = [record(offset + i) for i in range(size)]
        offset += size
        loop._next = {0: offset}
        loop._commit(consumer)  # type: ignore[arg-type]


def test_the_correct_consumer_seeks_to_the_table_offsets() -> None:
    loop, _writer, consumer = loop_with("", {0: 42})
    loop._base = {}
    loop._on_assign(consumer, [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])  # type: ignore[arg-type]
    assert [(tp.partition, tp.offset) for tp in consumer.assigned] == [(0, 42), (1, OFFSET_BEGINNING)]
    assert loop._base == {0: 42, 1: None}


def test_autocommit_resumes_from_the_group_offsets_but_keeps_the_table_as_the_base() -> None:
    loop, _writer, consumer = loop_with("autocommit", {0: 42})
    loop._base = {}
    loop._on_assign(consumer, [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])  # type: ignore[arg-type]
    assert [tp.offset for tp in consumer.assigned] == [OFFSET_INVALID, OFFSET_INVALID]  # = the group's offsets
    assert loop._base == {0: 42, 1: None}  # so the writer still accepts its commits


def test_the_correct_consumer_commits_each_batch_once_then_tells_kafka() -> None:
    loop, writer, consumer = loop_with("", {0: 0})
    commit_batches(loop, consumer, 10)
    assert writer.appends == [3] * 10
    assert writer.table == {0: 30}
    assert len(consumer.commits) == 10
    assert loop.defect_events == {}


def test_autocommit_leaves_kafka_offsets_to_the_auto_commit() -> None:
    loop, writer, consumer = loop_with("autocommit", {0: 0})
    commit_batches(loop, consumer, 3)
    assert writer.appends == [3, 3, 3]
    assert consumer.commits == []


def test_duplicate_batch_appends_every_fifth_batch_twice() -> None:
    loop, writer, consumer = loop_with("duplicate-batch", {0: 0})
    commit_batches(loop, consumer, 10)
    assert len(writer.appends) == 12  # batches 5 and 10 twice, each in a commit of its own
    assert sum(writer.appends) == 36
    assert writer.table == {0: 30}  # the offsets are right: only the rows are doubled
    assert loop.stats.commits == 10
    assert loop.stats.committed_rows == 30
    assert loop.defect_events == {"duplicated_batches": 2, "duplicated_rows": 6}


class FatalError:
    def fatal(self) -> bool:
        return True

    def str(self) -> str:
        return "Broker: Static consumer fenced by other consumer with same group.instance.id"


class ClosingConsumer(FakeConsumer):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_fatal_error_is_known_by_its_flag_or_by_the_fatal_event_code() -> None:
    assert is_fatal(KafkaError(KafkaError._FATAL))  # how consume() delivers it: flag not set
    assert is_fatal(KafkaError(KafkaError.FENCED_INSTANCE_ID, fatal=True))
    assert not is_fatal(KafkaError(KafkaError._TRANSPORT))
    assert not is_fatal(KafkaError(KafkaError._PARTITION_EOF))


def test_a_consumer_that_hit_a_fatal_error_is_replaced_and_its_uncommitted_batch_dropped() -> None:
    loop, writer, _ = loop_with("", {0: 10})
    old, new = ClosingConsumer(), ClosingConsumer()
    loop._new_consumer = lambda: cast(Consumer, new)  # type: ignore[method-assign]
    loop._rows, loop._next = [record(10), record(11)], {0: 12}
    replaced: object = loop._replace(cast(Consumer, old), cast(KafkaError, FatalError()))
    assert replaced is new and old.closed
    assert (loop._rows, loop._next) == ([], {})  # read again from the table's offsets by the new consumer
    assert writer.appends == [] and writer.table == {0: 10}
    assert loop.stats.consumer_replaced == 1 and "fenced" in loop.stats.last_error
