"""The common `python -m k2.<service>` entry: --help, settings from the environment (one clear
line and exit 2 when one is wrong), JSON logs, and uvicorn with a bounded graceful stop."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from k2 import logs
from k2.settings import SettingsError


class Listens(Protocol):
    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


S = TypeVar("S", bound=Listens)


def serve(
    service: str,
    description: str,
    from_env: Callable[[Mapping[str, str]], S],
    create_app: Callable[[S], Any],
    graceful_s: int = 20,
) -> int:
    argparse.ArgumentParser(prog=f"python -m k2.{service}", description=description).parse_args()
    try:
        settings = from_env(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.setup(service)
    import uvicorn  # after the settings check: a bad setting answers without loading the web stack

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=graceful_s,
    )
    return 0
