from harness.checks import exactly_once, fields_equal, only_expected


def test_exactly_once_holds_when_every_key_is_seen_once() -> None:
    v = exactly_once("committed", ["a", "b", "c"], ["c", "a", "b"])
    assert v.valid
    assert v.counts == {"expected": 3, "committed": 3, "lost": 0, "duplicated": 0, "unexpected": 0}


def test_lost_duplicated_and_unexpected_are_counted_with_examples() -> None:
    v = exactly_once("served", ["a", "b", "c", "d"], ["a", "a", "b", "x"])
    assert not v.valid
    assert (v.lost, v.duplicated, v.unexpected) == (["c", "d"], ["a"], ["x"])
    assert v.counts["lost"] == 2 and v.counts["served"] == 4
    text = str(v)
    assert "VIOLATED" in text and "lost (first 2): c, d" in text and "duplicated (first 1): a" in text


def test_nothing_expected_is_not_a_pass() -> None:
    assert not exactly_once("committed", [], []).valid


def test_examples_are_capped_at_twenty() -> None:
    v = exactly_once("committed", range(100), [])
    assert v.counts["lost"] == 100 and len(v.lost) == 20


def test_fields_equal_names_the_field_and_both_values() -> None:
    want = {("BTCUSDT", 1): {"price": "1.00000001"}, ("BTCUSDT", 2): {"price": "2.00000000"}}
    got = {("BTCUSDT", 1): {"price": "1.00000001"}, ("BTCUSDT", 2): {"price": "2.0"}}
    v = fields_equal("api", want, got)
    assert not v.valid and v.counts == {"compared": 2, "mismatched": 1}
    assert "price expected '2.00000000' got '2.0'" in str(v)
    assert fields_equal("api", want, {k: dict(w) for k, w in want.items()}).valid
    assert not fields_equal("api", want, {}).valid


def test_a_mapping_of_expected_trades_counts_its_keys() -> None:
    v = exactly_once("committed", {"a": {"price": "1"}, "b": {"price": "2"}}, ["a", "b"])
    assert v.valid and v.counts["expected"] == 2


def test_only_expected_names_what_else_was_seen_and_ignores_repeats_and_gaps() -> None:
    v = only_expected("the message log", ["a", "b", "c"], ["a", "a", "x", "y", "x"])
    assert not v.valid and v.unexpected == ["x", "y"]
    assert v.counts == {"expected": 3, "the message log": 5, "others": 3}
    assert only_expected("the message log", ["a", "b"], ["b"]).valid  # loss is exactly-once's business


def test_only_expected_on_nothing_is_no_pass() -> None:
    assert not only_expected("log", [], []).valid
    assert not only_expected("log", ["a"], []).valid
    assert not only_expected("log", [], ["a"]).valid
