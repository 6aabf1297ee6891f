"""Recorded answers of `docker compose config --format json` for compose/, the unit tests' view of
the compose stack (harness/stack/compose_model.py reads the same JSON from the live command).

Re-record after changing a compose file (the integration tests fail until you do):
    .venv/bin/python -m tests.compose_config
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness.stack.services import PROFILES
from harness.stack.settings import REPO_ROOT

COMPOSE_DIR = REPO_ROOT / "compose"
DATA = Path(__file__).parent / "unit" / "data"
SECRETS = {
    "K2_S3_ACCESS_KEY": "test-access",
    "K2_S3_SECRET_KEY": "test-secret-key",
    "K2_POSTGRES_PASSWORD": "test-pw",
    "K2_API_KEY": "test-api-key",
}
RECORDINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (compose files, profiles), as ComposeDriver asks for them
    "compose-config.json": (("docker-compose.yml",), tuple(PROFILES)),
    "compose-config-faultable.json": (("docker-compose.yml", "docker-compose.faultable.yml"), ("faultable",)),
}
REPO = "<repo>"


def command(files: tuple[str, ...], profiles: tuple[str, ...]) -> list[str]:
    cmd = ["docker", "compose", "--ansi", "never", "--env-file", os.devnull]
    for f in files:
        cmd += ["--file", str(COMPOSE_DIR / f)]
    for p in profiles:
        cmd += ["--profile", p]
    return [*cmd, "config", "--format", "json"]


def record(name: str) -> str:
    """What the command prints now, with the test secrets and the repository's path made neutral."""
    files, profiles = RECORDINGS[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K2_", "COMPOSE_"))}
    out = subprocess.run(
        command(files, profiles), env={**env, **SECRETS}, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.dumps(json.loads(out.replace(str(REPO_ROOT), REPO)), indent=1, sort_keys=True) + "\n"


def recorded(name: str) -> str:
    return (DATA / name).read_text()


if __name__ == "__main__":
    for name in RECORDINGS:
        (DATA / name).write_text(record(name))
        print(f"recorded {DATA / name}")
