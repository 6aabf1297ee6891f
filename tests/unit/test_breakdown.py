"""Where a flow's latency went: the consumer's commit log, the table's commit cadence, the text."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.breakdown import TableShape, as_report, breakdown_text, cadence, consumer_commits
from harness.latency import write_rate
from harness.probes.iceberg import Commit

LOG = "\n".join(
    [
        json.dumps({"msg": "committed", "rows": 40, "ms": 110.5, "age_ms": 510.0}),
        "not json at all",
        json.dumps({"msg": "committed", "rows": 60, "ms": 300.0, "age_ms": 1200.0}),
        json.dumps({"msg": "compacted small files", "files": 20, "rows": 900, "ms": 450.0}),
        json.dumps({"msg": "expired old snapshots", "expired": 20, "kept": 60}),
        json.dumps({"msg": "commit failed, retrying", "error": "x"}),
        json.dumps({"msg": "committed", "rows": 50, "ms": 120.0}),
    ]
)


def commit(at_ms: int, files: int = 1) -> Commit:
    return Commit(at_ms, at_ms, tuple(f"f{at_ms}-{i}" for i in range(files)))


def test_the_consumer_log_gives_commit_times_compactions_and_expiries() -> None:
    c = consumer_commits(LOG)
    assert c.commit_ms is not None and c.rows is not None
    assert (c.commit_ms.count, c.commit_ms.p50, c.commit_ms.max) == (3, 120.0, 300.0)
    assert (c.rows.p50, c.compactions, c.expired, c.failed) == (50.0, [450.0], 20, 1)
    assert c.age_ms is not None and (c.age_ms.count, c.age_ms.max) == (2, 1200.0)  # older lines have none


def test_a_log_without_commit_lines_has_no_commit_times() -> None:
    assert consumer_commits("hello\n{}\n").commit_ms is None


def test_the_cadence_counts_only_snapshots_that_added_data() -> None:
    every = cadence([commit(1000), commit(1500), commit(1700, files=0), commit(2600)])
    assert every is not None
    assert (every.count, every.p50, every.max) == (2, 0.5, 1.1)
    assert cadence([commit(1000)]) is None
    since_flow = cadence([commit(1000), commit(5000), commit(5400)], since=4.0)  # idle before the flow
    assert since_flow is not None and (since_flow.count, round(since_flow.max, 3)) == (1, 0.4)


def test_the_text_names_each_part_and_says_when_the_log_is_unreadable() -> None:
    commits = [commit(1000), commit(1600), commit(1700, files=0)]
    text = breakdown_text(commits, TableShape(73, 12, 140), consumer_commits(LOG), [0.02, 0.04, 0.3])
    assert "2 added data, one every p50 600 ms, p99 600 ms, max 600 ms while trades flowed; 1 added none" in text
    assert "73 snapshots in its metadata, 12 manifests and 140 data files" in text
    assert "3 commits took p50 120 ms, p99 300 ms, max 300 ms" in text
    assert "batch age at commit p50 510 ms, p99 1200 ms; 1 compactions (longest 450 ms)" in text
    assert "20 snapshots expired; 1 failed attempts" in text
    assert "3 polls, p50 40 ms, p99 300 ms" in text
    assert "its log is not readable" in breakdown_text(commits, None, None, [])


def test_the_json_is_per_rate_and_an_earlier_runs_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "latency-breakdown.json"
    figures = as_report([commit(1000), commit(2000)], TableShape(1, 2, 3), consumer_commits(LOG), [0.1])
    write_rate(path, 10, figures, run_started=0)
    write_rate(path, 50, figures, run_started=0)
    assert sorted(json.loads(path.read_text())) == ["10", "50"]
    assert json.loads(path.read_text())["10"]["table"] == {"snapshots": 1, "manifests": 2, "data_files": 3}
    os.utime(path, (1, 1))  # written long before this run began
    write_rate(path, 100, figures, run_started=2)
    assert sorted(json.loads(path.read_text())) == ["100"]
