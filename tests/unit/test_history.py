from harness.history import History


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_stage_keeps_the_first_time_each_trade_was_seen() -> None:
    clock = Clock()
    h = History(clock=clock)
    clock.now = 1001.0
    assert h.saw("served", ["a", "b"]) == 2
    clock.now = 1005.0
    assert h.saw("served", ["a", "b", "c"]) == 1
    assert h.first_seen["served"] == {"a": 1001.0, "b": 1001.0, "c": 1005.0}


def test_a_poll_that_shows_nothing_new_records_no_event() -> None:
    h = History(clock=Clock())
    h.saw("committed", ["a"])
    h.saw("committed", ["a"])
    assert [e.name for e in h.events] == ["committed"]


def test_a_stage_can_carry_the_trades_own_times() -> None:
    h = History(clock=Clock())
    h.saw("emitted", ["a", "b"], {"a": 990.5})
    assert h.first_seen["emitted"] == {"a": 990.5, "b": 1000.0}


def test_a_fault_stays_open_until_healed_by_name() -> None:
    h = History(clock=Clock())
    h.fault("kafka stopped")
    h.fault("api paused")
    h.heal("kafka stopped")
    assert [e.name for e in h.unhealed()] == ["api paused"]


def test_the_timeline_is_relative_to_the_start_and_names_every_event() -> None:
    clock = Clock()
    h = History(clock=clock)
    clock.now = 1002.5
    h.record("workload", "emit 10 BTCUSDT at 5/s", first_id=1)
    assert h.timeline() == "+   2.50 s  workload emit 10 BTCUSDT at 5/s  (first_id 1)"


def test_the_stage_table_counts_only_expected_trades_and_the_missing_ones() -> None:
    clock = Clock()
    h = History(clock=clock)
    clock.now = 1001.0
    h.saw("served", ["a", "x"])
    table = h.stage_table({"a": {}, "b": {}}).splitlines()
    assert table[1].split() == ["served", "2", "1", "1", "+1.00s", "+1.00s"]


def test_the_json_form_holds_events_and_stage_summaries() -> None:
    h = History(clock=Clock())
    h.saw("produced", ["a"])
    data = h.to_json()
    assert data["stages"]["produced"]["trades"] == 1
    assert data["events"][0]["kind"] == "stage"


def test_catching_up_is_measured_from_the_last_heal_to_the_last_trade_seen() -> None:
    clock = Clock()
    h = History(clock=clock)
    h.saw("committed", ["a"])
    clock.now = 1010.0
    h.fault("object-store stopped")
    clock.now = 1020.0
    h.heal("object-store stopped")
    assert h.caught_up_after_heal("committed", ["a", "b"]) is None  # b never committed
    clock.now = 1023.5
    h.saw("committed", ["b"])
    assert h.caught_up_after_heal("committed", ["a", "b"]) == 3.5


def test_a_stage_that_held_everything_before_the_heal_caught_up_at_once() -> None:
    clock = Clock()
    h = History(clock=clock)
    h.saw("committed", ["a"])
    clock.now = 1005.0
    h.heal("kafka restarted")
    assert h.caught_up_after_heal("committed", ["a"]) == 0.0
    assert History(clock=Clock()).caught_up_after_heal("committed", ["a"]) is None
