"""What only a cluster can show: which broker leads each partition of the trades, how long the
partitions of a crashed leader go without one, whether every replica is back in sync, and how the
consumers of one group share the partitions. Read from Kafka's own metadata and the consumers'
status; the faults themselves go through `Faults`, so they are recorded and healed."""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

import httpx
from confluent_kafka.admin import AdminClient

from harness.checks import Verdict
from harness.endpoints import Endpoints
from harness.stack.services import toxiproxy
from harness.waiting import ConditionTimeout, eventually

_QUIET = logging.getLogger("harness.cluster.kafka")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
BROKER_PREFIX = "kafka-"
"""Broker n of the local cluster runs as the stack service kafka-n (node.id n)."""


@dataclass(frozen=True)
class PartitionState:
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


def _admin(bootstrap: str) -> AdminClient:
    # quiet: while a broker is down every request would log that it cannot connect to it
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": _QUIET, "log.connection.close": False}
    return AdminClient(conf)


def partitions(endpoints: Endpoints, topic: str, avoid: int | None = None) -> dict[int, PartitionState]:
    """Each partition of the topic as the cluster's metadata has it now; asked of the brokers
    other than `avoid` (a broker cut off from the others still answers, from what it last knew)."""
    admin = _admin(endpoints.kafka.bootstrap)
    if avoid is not None:
        brokers = admin.list_topics(timeout=10).brokers
        admin = _admin(",".join(f"{b.host}:{b.port}" for b in brokers.values() if b.id != avoid))
    md = admin.list_topics(topic, timeout=10)
    found = md.topics.get(topic)
    if found is None or found.error is not None:
        raise AssertionError(f"topic {topic} not in the cluster's metadata: {found.error if found else 'absent'}")
    return {
        p: PartitionState(pm.leader, tuple(sorted(pm.replicas)), tuple(sorted(pm.isrs)))
        for p, pm in found.partitions.items()
    }


def busiest_leader(endpoints: Endpoints, topic: str) -> tuple[str, list[int]]:
    """The stack service of the broker that leads the most partitions of the topic, and those partitions."""
    state = partitions(endpoints, topic)
    leaders = Counter(s.leader for s in state.values() if s.leader >= 0)
    if not leaders:
        raise AssertionError(f"no partition of {topic} has a leader: {state}")
    broker = leaders.most_common(1)[0][0]
    return f"{BROKER_PREFIX}{broker}", sorted(p for p, s in state.items() if s.leader == broker)


def broker_id(service: str) -> int:
    if not service.startswith(BROKER_PREFIX) or not service[len(BROKER_PREFIX) :].isdigit():
        raise ValueError(f"{service} is not a broker of the cluster (kafka-1, kafka-2, ...)")
    return int(service[len(BROKER_PREFIX) :])


def new_leaders(
    endpoints: Endpoints, topic: str, lost: str, led: list[int], since: float, within: float
) -> tuple[float, dict[int, int]]:
    """Seconds from `since` (time.monotonic) until every partition in `led` has a leader other
    than the lost broker, and who leads each then."""
    gone = broker_id(lost)

    def moved() -> dict[int, int]:
        state = partitions(endpoints, topic, avoid=gone)
        waiting = {p: state[p].leader for p in led if state[p].leader in (gone, -1)}
        if waiting:
            raise AssertionError(f"partitions still led by {lost} or by none: {waiting}")
        return {p: state[p].leader for p in led}

    leaders = eventually(
        moved, within=within, every=0.1, describe=f"a new leader for partitions {led} of {topic}, once {lost} is gone"
    )
    return round(time.monotonic() - since, 2), leaders


def in_sync(endpoints: Endpoints, topic: str, brokers: int) -> Verdict:
    """Every partition led, on `brokers` replicas, all of them in sync."""
    state = partitions(endpoints, topic)
    behind = [
        f"{topic}[{p}] leader {s.leader} isr {list(s.isr)} of {list(s.replicas)}"
        for p, s in sorted(state.items())
        if s.leader < 0 or s.isr != s.replicas or len(s.replicas) != brokers
    ]
    return Verdict(
        f"every partition of {topic} led and on {brokers} replicas in sync",
        bool(state) and not behind,
        {"partitions": len(state), "behind": len(behind)},
        mismatched=behind,
    )


def until_holds(judge: Callable[[], Verdict], within: float, describe: str, unread: Verdict) -> Verdict:
    """Judge again until the verdict holds or `within` has passed; the last verdict, with the
    seconds waited (`unread` when no look could be judged at all)."""
    t0 = time.monotonic()
    last: list[Verdict] = []

    def look() -> bool:
        last[:] = [judge()]
        if not last[0].valid:
            raise AssertionError("; ".join([last[0].check, *last[0].mismatched[:3]]))
        return True

    with suppress(ConditionTimeout):
        eventually(look, within=within, every=0.5, describe=describe)
    if not last:
        return unread
    return replace(last[0], counts={**last[0].counts, "seconds waited": int(time.monotonic() - t0)})


def eventually_in_sync(endpoints: Endpoints, topic: str, brokers: int, within: float) -> Verdict:
    """Wait until `in_sync` holds; its verdict then, or when the budget ran out."""
    return until_holds(
        lambda: in_sync(endpoints, topic, brokers),
        within,
        f"every partition of {topic} in sync on {brokers} brokers",
        Verdict(
            f"every partition of {topic} led and on {brokers} replicas in sync",
            False,
            {"partitions": 0},
            mismatched=["the cluster's metadata could not be read"],
        ),
    )


def consumer_status(endpoints: Endpoints, consumer: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(endpoints.status_url(consumer), timeout=5).raise_for_status().json()
    return body


def assignments(endpoints: Endpoints, consumers: list[str]) -> dict[str, list[int]]:
    """The partitions each consumer says it owns now (a consumer that does not answer owns none)."""
    out: dict[str, list[int]] = {}
    for c in consumers:
        try:
            out[c] = sorted(consumer_status(endpoints, c).get("assignment", []))
        except httpx.HTTPError:
            out[c] = []
    return out


def shared(owned: dict[str, list[int]], partitions_of_topic: int, owners: list[str]) -> Verdict:
    """Every partition owned by exactly one consumer, all of them by `owners`, each of which owns
    at least one."""
    counts = Counter(p for ps in owned.values() for p in ps)
    twice = sorted(p for p, n in counts.items() if n > 1)
    unowned = sorted(set(range(partitions_of_topic)) - set(counts))
    others = sorted(p for c, ps in owned.items() if c not in owners for p in ps)
    idle = [c for c in owners if not owned.get(c)]
    listing = "; ".join(f"{c}: {ps}" for c, ps in sorted(owned.items()))
    return Verdict(
        f"the {partitions_of_topic} partitions shared by {' and '.join(owners)} ({listing})",
        not twice and not unowned and not idle and not others,
        {
            "partitions": partitions_of_topic,
            "owned twice": len(twice),
            "unowned": len(unowned),
            "owned by others": len(others),
            "consumers without any": len(idle),
        },
    )


def eventually_shared(
    endpoints: Endpoints, topic: str, consumers: list[str], owners: list[str], within: float
) -> Verdict:
    """Wait until the partitions are shared as `shared` asks (read from every one of `consumers`);
    the verdict of the last look, with how long it took."""
    count = len(partitions(endpoints, topic))
    return until_holds(
        lambda: shared(assignments(endpoints, consumers), count, owners),
        within,
        f"the partitions of {topic} shared by {owners}",
        Verdict(
            f"the partitions of {topic} shared by {' and '.join(owners)}",
            False,
            {"partitions": count},
            mismatched=["the consumers' status could not be read"],
        ),
    )


def both_committed(endpoints: Endpoints, consumers: list[str], before: dict[str, int]) -> Verdict:
    """Each consumer committed since `before` (commit_conflicts' figures); the conflicts and
    stale batches they met meanwhile, reported."""
    now = commit_conflicts(endpoints, consumers)
    delta = {k: v - before.get(k, 0) for k, v in now.items()}
    idle = [c for c in consumers if delta[f"{c} commits"] <= 0]
    print(f"[cluster] commits, conflicts and stale batches meanwhile: {delta}", file=sys.stderr, flush=True)
    return Verdict(
        f"{' and '.join(consumers)} both committed meanwhile",
        not idle,
        delta,
        mismatched=[f"{c}: no commit" for c in idle],
    )


def commit_conflicts(endpoints: Endpoints, consumers: list[str]) -> dict[str, int]:
    """Per consumer: commits that lost a race and were re-checked, and batches dropped as stale."""
    out = {}
    for c in consumers:
        s = consumer_status(endpoints, c)
        out[f"{c} conflicts"] = int(s.get("commit_conflicts", 0))
        out[f"{c} stale batches"] = int(s.get("stale_batches", 0))
        out[f"{c} commits"] = int(s.get("commits", 0))
    return out


@dataclass
class LeaderLost:
    """The broker that led the most partitions of a topic, lost at `at` (time.monotonic): crashed,
    or cut off from the other brokers."""

    broker: str
    led: list[int]
    at: float

    @staticmethod
    def crash(faults: Any, endpoints: Endpoints, topic: str) -> LeaderLost:
        broker, led = busiest_leader(endpoints, topic)
        at = time.monotonic()
        faults.crash(broker)
        return LeaderLost(broker, led, at)

    @staticmethod
    def cut_off(faults: Any, endpoints: Endpoints, topic: str) -> LeaderLost:
        broker, led = busiest_leader(endpoints, topic)
        at = time.monotonic()
        faults.isolate(broker, toxiproxy.between(broker_id(broker)))
        return LeaderLost(broker, led, at)

    def leadership_moved(self, endpoints: Endpoints, topic: str, within: float) -> Verdict:
        try:
            took, leaders = new_leaders(endpoints, topic, self.broker, self.led, self.at, within)
        except Exception as exc:  # ConditionTimeout: the verdict says what was still waiting
            return Verdict(
                f"partitions {self.led} of {topic} led again within {within:g} s of losing {self.broker}",
                False,
                {"partitions": len(self.led)},
                mismatched=[str(exc)[:500]],
            )
        print(
            f"[cluster] {self.broker} led partitions {self.led}; new leaders {leaders} after {took:.2f} s",
            file=sys.stderr,
            flush=True,
        )
        return Verdict(
            f"partitions {self.led} of {topic} led again within {within:g} s of losing {self.broker} "
            f"(new leaders {leaders})",
            True,
            {"partitions": len(self.led), "milliseconds to new leaders": int(took * 1000)},
        )
