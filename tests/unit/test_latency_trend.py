import json
import os
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness import latency_trend, plots
from harness.allure_results import RunResults, ScenarioResult
from harness.criteria_report import latency_of, record_trend
from harness.latency_trend import RecordedRun, append, entry, missing, read_history, read_latency, table, written_during

SPAN_NAMES = ("exchange_to_kafka", "kafka_to_iceberg", "iceberg_to_api", "end_to_end")


def report(p99: float, rates: tuple[str, ...] = ("10", "50", "100")) -> dict[str, Any]:
    return {
        rate: {
            span: {"p50": p99 / 2, "p95": p99 * 0.9, "p99": p99, "max": p99 * 1.1, "count": 99} for span in SPAN_NAMES
        }
        for rate in rates
    }


AT = datetime(2026, 12, 7, 8, 33, 16, tzinfo=UTC)


def test_a_runs_line_keeps_p50_p99_and_count_per_rate_and_span() -> None:
    line = entry(report(0.9753, ("10",)), "sha256:aa", AT, "abc1234")
    assert line["at"] == "2026-12-07T08:33:16+00:00" and line["commit"] == "abc1234" and line["key"] == "sha256:aa"
    assert line["rates"]["10"]["end_to_end"] == {"p50": 0.48765, "p99": 0.9753, "count": 99}


def test_the_same_latency_json_is_appended_once(tmp_path: Path) -> None:
    history = tmp_path / "history" / "latency.jsonl"
    first = entry(report(1.0), "sha256:aa", AT, "abc1234")
    assert append(history, first) is True
    assert append(history, {**first, "at": "2026-12-07T09:00:00+00:00"}) is False
    assert append(history, entry(report(2.0), "sha256:bb", AT, None)) is True
    runs, problems = read_history(history)
    assert [(r.key, r.commit, r.p99("100")) for r in runs] == [("sha256:aa", "abc1234", 1.0), ("sha256:bb", None, 2.0)]
    assert problems == []
    assert len(history.read_text().splitlines()) == 2


def test_bad_and_missing_lines_are_skipped_with_a_message_naming_the_line(tmp_path: Path) -> None:
    history = tmp_path / "latency.jsonl"
    assert read_history(history) == ([], [])
    good = json.dumps(entry(report(1.0), "sha256:aa", AT, "abc1234"))
    history.write_text(f'{good}\n\n{{"at": "x", "commit": null}}\n["a list"]\n{good[:40]}')  # last line cut short
    runs, problems = read_history(history)
    assert [r.key for r in runs] == ["sha256:aa"]
    assert problems == [
        f"{history} line 3: not a run's line (needs at, commit, rates, key); skipped",
        f"{history} line 4: not a run's line (needs at, commit, rates, key); skipped",
        f"{history} line 5: not JSON; skipped",
    ]
    # a new run's line starts on a line of its own, not glued to the cut one
    assert append(history, entry(report(3.0), "sha256:cc", AT, "def5678")) is True
    runs, problems = read_history(history)
    assert [r.key for r in runs] == ["sha256:aa", "sha256:cc"] and len(problems) == 3


def test_latency_json_is_complete_only_with_every_plan_rate_and_span() -> None:
    assert missing(report(1.0)) == []
    partial = report(1.0, ("10", "100", "1000"))
    del partial["100"]["iceberg_to_api"]
    assert missing(partial) == ["50 trades/s", "iceberg_to_api at 100 trades/s"]


def test_latency_json_belongs_to_the_run_it_was_written_during() -> None:
    started_ms, stopped_ms = 1_796_000_000_000, 1_796_000_240_000
    assert written_during(1_796_000_100, started_ms, stopped_ms)
    assert written_during(1_796_000_240 + 59, started_ms, stopped_ms)
    assert not written_during(1_796_000_000 - 61, started_ms, stopped_ms)
    assert not written_during(1_796_000_240 + 3600, started_ms, stopped_ms)


def test_latency_json_is_keyed_by_its_content_and_bad_json_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latency.json"
    path.write_text(json.dumps(report(1.0)))
    figures, key = read_latency(path)
    assert figures == report(1.0) and key.startswith("sha256:") and len(key) == 71
    os.utime(path, (0, 0))
    assert read_latency(path)[1] == key  # a copied or touched file is the same run's
    path.write_text("{")
    with pytest.raises(latency_trend.LatencyUnreadable, match=r"latency.json is not JSON"):
        read_latency(path)


def test_the_trend_table_has_the_end_to_end_p99_per_rate_and_marks_this_run() -> None:
    runs = [
        RecordedRun("2026-12-06T08:00:00+00:00", "abc1234", report(1.0), "sha256:aa"),
        RecordedRun("2026-12-07T08:33:16+00:00", None, report(0.8312, ("10", "100")), "sha256:bb"),
    ]
    assert table(runs, "sha256:bb").splitlines() == [
        "| run (UTC) | commit | p99 at 10/s (s) | p99 at 50/s (s) | p99 at 100/s (s) |",
        "|---|---|---|---|---|",
        "| 2026-12-06 08:00 | abc1234 | 1.00 | 1.00 | 1.00 |",
        "| 2026-12-07 08:33 (this run) | – | 0.83 | – | 0.83 |",
    ]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("count", [1, 3])
def test_the_trend_plot_is_a_png_with_a_panel_per_rate(count: int) -> None:
    runs = [
        RecordedRun(f"2026-12-0{n + 1}T08:00:00+00:00", f"c{n}", report(1.0 + n / 10), f"sha256:{n}")
        for n in range(count)
    ]
    png = plots.latency_trend(runs)
    assert png_size(png) == (1500, 400)  # 3 panels of 5 x 4 inches at 100 dpi
    assert len(png) > 5000


# ---------------------------------------------------------------- the report's trend step
def run_between(started_s: int, stopped_s: int) -> RunResults:
    s = ScenarioResult("Freshness", "At 10 trades per second", "passed", started_s * 1000, stopped_s * 1000)
    return RunResults(Path("reports/allure-results"), (s,), {})


def test_a_complete_latency_json_of_the_run_is_recorded_once_and_drawn(tmp_path: Path) -> None:
    latency, history = tmp_path / "latency.json", tmp_path / "history" / "latency.jsonl"
    latency.write_text(json.dumps(report(0.9)))
    os.utime(latency, (1_796_000_100, 1_796_000_100))
    said: list[str] = []
    of_run = latency_of(latency, run_between(1_796_000_000, 1_796_000_200))
    assert of_run.figures == report(0.9)
    section = record_trend(of_run, history, "abc1234", tmp_path, said.append)
    record_trend(of_run, history, "abc1234", tmp_path, said.append)  # the report built twice from one run
    assert [r.commit for r in read_history(history)[0]] == ["abc1234"]
    assert said == [
        f"[report] latency trend: this run added to {history}",
        f"[report] latency trend: this run is in {history} already",
    ]
    assert "![p99 latency per stage over the last 1 run](latency-trend.png)" in section
    assert section.endswith("| 2026-11-30 00:55 (this run) | abc1234 | 0.90 | 0.90 | 0.90 |")
    assert png_size((tmp_path / "latency-trend.png").read_bytes()) == (1500, 400)


def test_an_incomplete_or_older_latency_json_is_not_recorded(tmp_path: Path) -> None:
    latency, history = tmp_path / "latency.json", tmp_path / "latency.jsonl"
    latency.write_text(json.dumps(report(0.9, ("100",))))
    os.utime(latency, (1_796_000_100, 1_796_000_100))
    said: list[str] = []
    section = record_trend(
        latency_of(latency, run_between(1_796_000_000, 1_796_000_200)), history, None, tmp_path, said.append
    )
    assert said == ["[report] latency trend: this run not recorded, its latency.json lacks 10 trades/s, 50 trades/s"]
    assert not history.exists() and "No run recorded yet" in section
    older = latency_of(latency, run_between(1_796_100_000, 1_796_100_200))
    assert older.figures is None and "outside this run; its figures are left out." in older.note
