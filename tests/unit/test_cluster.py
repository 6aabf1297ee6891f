"""How the suite judges the sharing of partitions between the consumers of a cluster (pure)."""

from harness.cluster import broker_id, shared

BOTH = ["consumer-1", "consumer-2"]


def test_partitions_shared_by_both_consumers_once_each_hold() -> None:
    verdict = shared({"consumer-1": [0, 1], "consumer-2": [2]}, 3, BOTH)
    assert verdict.valid and verdict.counts["owned twice"] == 0


def test_a_partition_owned_twice_unowned_or_a_consumer_without_any_fails() -> None:
    assert not shared({"consumer-1": [0, 1, 2], "consumer-2": [2]}, 3, BOTH).valid
    assert shared({"consumer-1": [0], "consumer-2": [2]}, 3, BOTH).counts["unowned"] == 1
    idle = shared({"consumer-1": [0, 1, 2], "consumer-2": []}, 3, BOTH)
    assert not idle.valid and idle.counts["consumers without any"] == 1


def test_one_consumer_owning_all_holds_only_when_the_other_owns_none() -> None:
    assert shared({"consumer-1": [], "consumer-2": [0, 1, 2]}, 3, ["consumer-2"]).valid
    still = shared({"consumer-1": [0], "consumer-2": [1, 2]}, 3, ["consumer-2"])
    assert not still.valid and still.counts["owned by others"] == 1


def test_a_broker_is_known_by_its_service_name() -> None:
    assert broker_id("kafka-3") == 3
    try:
        broker_id("kafka")
    except ValueError as exc:
        assert "kafka-1" in str(exc)
    else:
        raise AssertionError("kafka is no broker of the cluster")


def test_until_holds_returns_the_first_verdict_that_holds_or_the_unread_one() -> None:
    from harness.checks import Verdict
    from harness.cluster import until_holds

    looks = iter([Verdict("x", False, {"n": 1}), Verdict("x", True, {"n": 2})])
    held = until_holds(lambda: next(looks), within=10, describe="x", unread=Verdict("unread", False, {}))
    assert held.valid and held.counts["n"] == 2 and "seconds waited" in held.counts

    def unreadable() -> Verdict:
        raise OSError("down")

    unread = Verdict("unread", False, {})
    assert until_holds(unreadable, within=0.1, describe="x", unread=unread) is unread
