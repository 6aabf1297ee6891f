"""The secret scan: finds each secret in the forms a leak takes, names it without showing it."""

from __future__ import annotations

import json
from pathlib import Path

from harness.leaks import scan, secrets_of

SECRETS = {"api_key": "k2-Abc/def+ghi=jkl", "s3_secret_key": "s3cr3t-value-0123"}


def test_a_clean_tree_has_no_leaks(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("nothing secret here\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text('{"ok": true}')
    assert scan([tmp_path], SECRETS) == []


def test_a_secret_is_found_as_text_percent_encoded_and_json_escaped(tmp_path: Path) -> None:
    (tmp_path / "plain.log").write_text("line one\napi key k2-Abc/def+ghi=jkl\n")
    (tmp_path / "url.txt").write_text("GET /?key=k2-Abc%2Fdef%2Bghi%3Djkl\n")
    (tmp_path / "escaped.json").write_text(json.dumps({"k": "k2-Abc/def+ghi=jkl"}).replace("/", "\\/"))
    leaks = scan([tmp_path], SECRETS)
    assert [(p.path.name, p.line, p.secret) for p in leaks] == [
        ("escaped.json", 1, "api_key"),
        ("plain.log", 2, "api_key"),
        ("url.txt", 1, "api_key"),
    ]


def test_a_finding_names_the_secret_but_never_shows_it(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("s3cr3t-value-0123")
    [leak] = scan([tmp_path], SECRETS)
    assert "s3_secret_key" in str(leak) and "s3cr3t" not in str(leak)


def test_binary_files_and_skipped_files_are_handled(tmp_path: Path) -> None:
    (tmp_path / "shot.png").write_bytes(b"\x89PNG\x00\x01s3cr3t-value-0123\xff")
    (tmp_path / "credentials.json").write_text(json.dumps(SECRETS))
    leaks = scan([tmp_path], SECRETS, skip=[tmp_path / "credentials.json"])
    assert [(p.path.name, p.secret) for p in leaks] == [("shot.png", "s3_secret_key")]


def test_short_values_such_as_a_user_name_are_not_searched(tmp_path: Path) -> None:
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"postgres_user": "k2", "api_key": "k2-long-enough-key"}))
    assert secrets_of(creds) == {"api_key": "k2-long-enough-key"}
