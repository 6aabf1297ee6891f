"""Secrets that ended up where they must not be: reports, Allure attachments, service logs.

The stack's secrets (API key, S3 keys, database password) are generated per stack into
`.stack/credentials.json`. After a run, every file under the scanned folders is searched for
each secret's value, as text and in the encodings a leak would take in a URL or a log line
(percent-encoded, JSON-escaped). A finding names the file, the line and which secret, never
the value, so the scan's own output can be shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

MIN_SECRET_LENGTH = 8
"""Shorter values (a user name such as "k2") would match everywhere and prove nothing."""


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    secret: str  # the secret's name, e.g. "api_key"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: the {self.secret} appears here"


def secrets_of(credentials_file: Path) -> dict[str, str]:
    """The secrets worth searching for: every credential long enough to be one."""
    data = json.loads(credentials_file.read_text())
    return {name: str(value) for name, value in data.items() if len(str(value)) >= MIN_SECRET_LENGTH}


def _forms(value: str) -> set[bytes]:
    escaped = json.dumps(value)[1:-1]
    return {value.encode(), quote(value, safe="").encode(), escaped.encode(), escaped.replace("/", "\\/").encode()}


def scan_file(path: Path, secrets: Mapping[str, str]) -> list[Leak]:
    try:
        data = path.read_bytes()
    except OSError:  # vanished or unreadable between listing and reading: nothing to report
        return []
    found = []
    for name, value in secrets.items():
        for form in _forms(value):
            at = data.find(form)
            if at >= 0:
                found.append(Leak(path, data.count(b"\n", 0, at) + 1, name))
                break
    return found


def scan(roots: Iterable[Path], secrets: Mapping[str, str], skip: Iterable[Path] = ()) -> list[Leak]:
    """Every leak under `roots` (files and folders, recursively), in path order."""
    skipped = {p.resolve() for p in skip}
    leaks: list[Leak] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.resolve() not in skipped:
                leaks.extend(scan_file(path, secrets))
    return leaks
