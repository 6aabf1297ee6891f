"""Reading one of the suite's YAML files (profile, platform file, endpoints), with errors that name it."""

from __future__ import annotations

from pathlib import Path

import yaml


def read(path: Path, what: str, hint: str, error: type[Exception]) -> object:
    """The parsed content of `what` at `path`; `error` naming the file when it is missing (with
    `hint`, where to start from) or is not YAML."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist; {hint}") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not YAML: {exc}") from None
