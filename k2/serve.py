"""The common `python -m k2.<service>` entry: --help, settings from the environment (one clear
line and exit 2 when one is wrong), JSON logs, and uvicorn with a bounded graceful stop."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from k2 import logs
from k2.settings import K2Settings, SettingsError, describe, prog, refuse


class Listens(Protocol):
    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


S = TypeVar("S", bound=K2Settings)


def serve(
    service: str,
    description: str,
    model: type[S],
    create_app: Callable[[S], Any],
    graceful_s: int = 20,
) -> int:
    argparse.ArgumentParser(
        prog=prog(f"k2.{service}"),
        description=description,
        epilog=describe(model),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args()
    try:
        settings = model.from_env()
    except SettingsError as exc:
        return refuse(exc)
    listens = cast(Listens, settings)  # every service's model has host and port
    logs.setup(service)
    import uvicorn  # after the settings check: a bad setting answers without loading the web stack

    uvicorn.run(
        create_app(settings),
        host=listens.host,
        port=listens.port,
        log_config=None,
        timeout_graceful_shutdown=graceful_s,
    )
    return 0
