"""compose/.env: the compose stack's settings and secrets, read the way `docker compose` reads them
(the driver's endpoints, set-up and the secret scan use the same values compose interpolates)."""

from __future__ import annotations

from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """A .env file's settings (parse_env); a missing file is empty."""
    try:
        return parse_env(path.read_text())
    except FileNotFoundError:
        return {}


def parse_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines as compose reads a .env file: blank lines and comments skipped, an optional
    `export `, one pair of matching quotes around the value removed."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        found[key.strip()] = value
    return found
