from pathlib import Path

from harness.probes.dead_letter_files import marks, parse, read_since


def test_only_lines_written_after_the_mark_count_in_any_file_of_the_pattern(tmp_path: Path) -> None:
    old = tmp_path / "dlq-1.jsonl"
    old.write_text('{"reason": "before the scenario"}\n')
    since = marks(str(tmp_path / "dlq-*.jsonl"))
    with old.open("a") as f:
        f.write('{"reason": "Rescaling Decimal value would cause data loss", "offset": 7}\n')
    (tmp_path / "dlq-2.jsonl").write_text("plain text reason\n\n")
    letters = read_since(str(tmp_path / "dlq-*.jsonl"), since)
    assert letters == [
        {"reason": "Rescaling Decimal value would cause data loss", "offset": 7},
        {"reason": "plain text reason"},
    ]


def test_no_pattern_means_no_files_and_a_line_of_any_format_is_a_reason() -> None:
    assert marks(None) == {} and read_since(None, {}) == []
    assert parse("[1, 2]") == {"reason": "[1, 2]"} and parse("not json") == {"reason": "not json"}
